Feature: Home recommendations
  A learner opening the course platform sees courses picked for them,
  never one they already enrolled in, and can read why each was chosen.

  Background:
    Given the catalog has the courses "Python Basics", "Intermediate Python", "SQL Basics", "Spanish Basics"
    And "Intermediate Python" requires "Python Basics"

  Scenario: A learner never gets back a course they enrolled in
    Given learner "ana" enrolled in "Python Basics"
    And learner "ben" enrolled in "Python Basics"
    When "ana" asks for 10 recommendations by popularity
    Then "Python Basics" is not among them
    And every course is one "ana" has not taken

  Scenario: Recommendations follow what the learner studied
    Given learner "ana" completed "Python Basics"
    When "ana" asks for 1 recommendation by content with reasons
    Then the first recommendation is "Intermediate Python"
    And its reason reads "Next step after Python Basics"

  Scenario: A learner we have never seen gets popular courses
    Given learner "ben" enrolled in "SQL Basics"
    When "zoe" asks for 2 recommendations by content
    Then the answer comes from popularity instead of content
    And the first recommendation is "SQL Basics"
