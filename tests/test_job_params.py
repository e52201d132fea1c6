"""`uhnw job run -p key value`: every parameter is typed by the job notebook's `parameters` cell and a bad
value is refused in one line before the kernel starts (so these tests run the real notebooks' refusals, fast)."""
import pytest

from uhnw.ops.jobs import JobError, check_parameters, coerce_parameter


def test_run_date_is_refused_as_a_parameter_because_it_comes_from_date(cli):
    out = cli("job", "run", "positions_etl", "--date", "2031-01-02", "-p", "run_date", "2031-01-01")
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "run_date" in out.stderr and "--date" in out.stderr


@pytest.mark.parametrize("name, key, value, expected", [
    ("positions_etl", "require_prices_and_fx", "notabool", "bool"),
    ("train_relevance", "promote", "maybe", "bool"),
    ("train_relevance", "cv", "3.5", "int"),
    ("train_relevance", "C", "two", "float"),
    ("portfolio_health", "days", "30 days", "int"),
])
def test_a_bad_value_is_refused_naming_parameter_type_and_value(cli, name, key, value, expected):
    out = cli("job", "run", name, "--date", "2031-01-02", "-p", key, value)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"parameter {key} expects {expected}, got {value!r}" in out.stderr


@pytest.mark.parametrize("text, value", [("true", True), ("Yes", True), ("1", True), ("TRUE", True),
                                         ("false", False), ("no", False), ("NO", False), ("0", False)])
def test_bool_parameters_take_the_usual_words_and_no_is_false(text, value):
    assert check_parameters("train_relevance", {"promote": text}) == {"promote": value}


def test_numbers_parse_strictly_and_strings_stay_as_given():
    typed = check_parameters("train_relevance", {"cv": "3", "C": "0.5", "min_auc": "1", "label_dates": "2026-01-01,2026-01-02",
                                                 "model_version": "007"})
    assert typed == {"cv": 3, "C": 0.5, "min_auc": 1.0, "label_dates": "2026-01-01,2026-01-02", "model_version": "007"}
    assert type(typed["min_auc"]) is float
    # values already typed (the Python callers: run_job(..., {"promote": True, "cv": 3})) pass unchanged
    assert check_parameters("train_relevance", {"promote": True, "cv": 3}) == {"promote": True, "cv": 3}
    for name, type_name, value in [("cv", "int", "1e3"), ("cv", "int", True), ("promote", "bool", 1), ("model_version", "str", 7)]:
        with pytest.raises(ValueError, match=f"parameter {name} expects {type_name}"):
            coerce_parameter(name, type_name, value)
    with pytest.raises(JobError, match="run_date"):
        check_parameters("rds_sync", {"run_date": "2031-01-01"})


@pytest.mark.parametrize("args, expected", [
    (["train_relevance", "-p", "promote", "no", "-p", "cv", "3"], {"run_date": "2031-01-02", "promote": False, "cv": 3}),
    (["positions_etl", "-p", "require_prices_and_fx", "FALSE"], {"run_date": "2031-01-02", "require_prices_and_fx": False}),
])
def test_papermill_receives_the_typed_values_and_the_date_of_date(tmp_path, monkeypatch, args, expected):
    import papermill
    from typer.testing import CliRunner

    from uhnw.cli import build_app
    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda src, out, parameters, **kw: seen.update(parameters))
    monkeypatch.setenv("UHNW_HOME", str(tmp_path))
    result = CliRunner().invoke(build_app(), ["job", "run", args[0], "--date", "2031-01-02", *args[1:]])
    assert result.exit_code == 0, result.output
    assert seen == expected  # "no" is False (it used to reach the notebook as the truthy string "no")
