Feature: Rejecting bad input
  Mistakes by the calling platform are explained clearly and never half-stored.

  Background:
    Given the catalog has the courses "Python Basics", "SQL Basics"

  Scenario: One bad event spoils the whole batch
    When the platform reports a batch whose second event is a "purchase" of "SQL Basics"
    Then the batch is refused, naming event 1 and the field "event_type"
    And nothing from the batch was recorded

  Scenario: Asking for too many recommendations
    When "ana" asks for 1000 recommendations by popularity
    Then the request is refused, naming the field "k"

  Scenario: Asking for a strategy that does not exist
    When "ana" asks for 5 recommendations by astrology
    Then the request is refused and the valid strategies are listed
