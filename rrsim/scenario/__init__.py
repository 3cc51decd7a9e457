"""What a run is asked to do: setup keys and their checks, timeline actions, scenario files, pass/fail checks."""
