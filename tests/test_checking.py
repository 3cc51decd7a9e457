"""The names a check may use, known before a run, are those a run's report has."""

from rrsim.model.model import Model
from rrsim.report.checking import report_values
from rrsim.report.report import build_report
from rrsim.scenario.checks import known_names


def test_the_names_known_before_a_run_are_those_of_a_report():
    assert set(report_values(build_report(Model()))) == known_names()
