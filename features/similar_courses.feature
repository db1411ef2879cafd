Feature: Similar courses
  On a course page a learner sees other courses like it.

  Background:
    Given the catalog has the courses "Python Basics", "Intermediate Python", "SQL Basics", "Spanish Basics"

  Scenario: Courses on the same subject come first
    When a learner looks at courses similar to "Python Basics"
    Then the first similar course is "Intermediate Python"
    And "Python Basics" itself is not among them

  Scenario: A course that does not exist
    When a learner looks at courses similar to "Underwater Basket Weaving"
    Then they are told the course does not exist
