Feature: An LMS sends xAPI statements
  Learning platforms already describe what learners do as xAPI statements; the service learns from
  them as they are, without glue code.

  Background:
    Given the catalog has the courses "Python Basics", "SQL Basics", "Spanish Basics"

  Scenario: A completion reported in xAPI is never recommended again
    When the LMS reports in xAPI that "ana" completed "Python Basics"
    And "ana" asks for 3 recommendations by popularity
    Then "Python Basics" is not among them

  Scenario: A statement sent twice is remembered once
    When the LMS reports in xAPI that "ana" completed "SQL Basics"
    And the LMS sends the same statement again
    Then "ana" has 1 recorded activity

  Scenario: A statement about something outside the catalog is acknowledged and left out
    When the LMS reports in xAPI that "ana" completed "Underwater Basket Weaving"
    Then the LMS is told the statement was received
    And "ana" has 0 recorded activities

  Scenario: A voided statement is taken back
    When the LMS reports in xAPI that "ana" completed "SQL Basics"
    And the LMS voids that statement
    Then "ana" has 0 recorded activities

  Scenario: A batch with a statement that names no learner is refused as a whole
    When the LMS reports a batch whose second statement names no learner
    Then the statements are refused, naming statement 1 and the field "actor"
    And "ana" has 0 recorded activities
