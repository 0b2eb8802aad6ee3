"""No model's default ordering joins another table (issue 11): ordering by a relation (``school``,
``student``) joins it and sorts by its own ordering, on every query that does not say otherwise
(the student changelist sorted a million rows by the school's name; every ``.first()`` paid a join)."""

import pytest
from django.apps import apps

MODELS = [
    model
    for label in ("schools", "contacts", "calls")
    for model in apps.get_app_config(label).get_models()
    if model._meta.ordering
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_the_default_ordering_reads_one_table(model):
    sql = str(model._default_manager.all().query)
    assert "JOIN" not in sql, sql


def test_the_orderings_that_once_joined_are_checked():
    labels = {model._meta.label for model in MODELS}
    assert {
        "schools.Student",
        "schools.Device",
        "schools.DeviceGroup",
        "contacts.Contact",
        "calls.CallingWindow",
    } <= labels
