"""Every feature file under features/ runs as an acceptance test."""

from pytest_bdd import scenarios

scenarios("home_recommendations.feature")
scenarios("similar_courses.feature")
scenarios("logging_interactions.feature")
scenarios("rejecting_bad_input.feature")
scenarios("learner_ranking.feature")
