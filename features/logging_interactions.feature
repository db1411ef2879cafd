Feature: Logging what learners do
  The platform reports views, clicks, enrolments and completions so recommendations learn from them.

  Background:
    Given the catalog has the courses "Python Basics", "SQL Basics"

  Scenario: A batch of events is recorded once, even when it is sent twice
    When the platform reports that "ana" viewed and then enrolled in "SQL Basics"
    And the platform sends the same report again
    Then 2 events were accepted the first time
    And 2 were recognised as duplicates the second time

  Scenario: A click on a recommendation is credited to it
    Given learner "ana" completed "Python Basics"
    When "ana" asks for 1 recommendation by content
    And "ana" clicks the first recommendation
    Then the click is accepted

  Scenario: A click is not credited to a list another learner was shown
    Given learner "ana" completed "Python Basics"
    When "ana" asks for 1 recommendation by content
    And "ben" clicks the first recommendation
    Then the batch is refused, naming event 0 and the field "recommendation_id"
