Feature: A learner asks to be forgotten
  Education platforms must erase a learner's data on request (GDPR article 17, FERPA requests):
  their activity, what they were shown, and their part in the statistics.

  Background:
    Given the catalog has the courses "Python Basics", "SQL Basics", "Spanish Basics"
    And learner "ana" completed "Python Basics"
    And learner "bo" enrolled in "SQL Basics"

  Scenario: After the erasure nothing about the learner is kept
    Given "ana" was shown 2 recommendations and clicked the first
    When an operator erases "ana"
    Then nothing about "ana" is kept
    And the erasure is on record without the learner's name

  Scenario: The erased learner is a stranger to the service
    Given "ana" was shown 2 recommendations and clicked the first
    When an operator erases "ana"
    Then "ana" gets the recommendations a new learner gets
    And the statistics of "ana" are those of a new learner

  Scenario: Other learners keep their history
    When an operator erases "ana"
    Then the operator is told 1 activity was removed
    And "bo" has 1 recorded activity
