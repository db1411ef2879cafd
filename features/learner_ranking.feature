Feature: Ranking that fits a learner's path
  Recommendations respect prerequisites, suggest the next step after a finished course,
  keep some variety, and every suggestion says why in the learner's own terms.

  Background:
    Given the catalog has the courses "Python Basics", "Intermediate Python", "Advanced Python", "SQL Basics", "Spanish Basics", "Spanish Conversation"
    And "Intermediate Python" requires "Python Basics"
    And "Advanced Python" requires "Intermediate Python"
    And "Spanish Conversation" requires "Spanish Basics"

  Scenario: A course whose prerequisite the learner has not taken comes after courses they can start
    Given learner "ben" enrolled in "Advanced Python"
    And learner "cy" enrolled in "Advanced Python"
    And learner "dee" enrolled in "SQL Basics"
    When "ana" asks for 6 recommendations by popularity
    Then "Advanced Python" comes after "SQL Basics"

  Scenario: A course whose prerequisite the learner has not taken says so, after that prerequisite
    Given learner "ben" enrolled in "Intermediate Python"
    And learner "cy" enrolled in "Intermediate Python"
    And learner "ana" viewed "Python Basics"
    When "ana" asks for 6 recommendations by popularity with reasons
    Then "Intermediate Python" comes after "Python Basics"
    And the reason for "Intermediate Python" reads "Popular in Programming lately; take Python Basics first"

  Scenario: With strict prerequisites such a course is not offered at all
    Given learner "ben" enrolled in "Advanced Python"
    When "ana" asks for 6 recommendations by popularity with strict prerequisites
    Then "Advanced Python" is not among them

  Scenario: The next step after a finished course
    Given learner "ana" completed "Spanish Basics"
    When "ana" asks for 3 recommendations by content with reasons
    Then the first recommendation is "Spanish Conversation"
    And its reason reads "Next step after Spanish Basics"

  Scenario: Variety across subjects
    Given learner "ana" completed "Python Basics"
    And learner "ben" enrolled in "Intermediate Python"
    And learner "ben" enrolled in "Advanced Python"
    And learner "cy" enrolled in "Spanish Basics"
    When "ana" asks for 3 recommendations by popularity
    Then they cover at least 2 subjects

  Scenario: Every reason is true for the learner
    Given learner "ana" completed "Python Basics"
    And learner "ana" viewed "SQL Basics"
    When "ana" asks for 5 recommendations by content with reasons
    Then every recommendation has a reason
    And no reason names a course "ana" never touched

  Scenario: A course sharing only the word "Basics" with the learner's course is not called similar to it
    Given learner "ana" completed "Spanish Basics"
    When "ana" asks for 5 recommendations by content with reasons
    Then the reason for "Python Basics" reads "A course in Programming, new to you"

  Scenario: A list the learner's history cannot fill is completed with popular courses
    Given learner "ben" viewed "Spanish Basics"
    And learner "ben" enrolled in "Spanish Conversation"
    And learner "cy" enrolled in "SQL Basics"
    And learner "ana" enrolled in "Spanish Basics"
    When "ana" asks for 5 recommendations by sequence with reasons
    Then there are 5 recommendations from sequence
    And the first recommendation is "Spanish Conversation"
    And the reason for "SQL Basics" reads "Popular in Data Science lately"
