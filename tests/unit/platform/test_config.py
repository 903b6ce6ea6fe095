from pathlib import Path

import pytest

from contracts.records import DEFAULT_FIELD_MASK
from restaurant_pipeline.model import config as config_module
from restaurant_pipeline.model.config import ConfigError, load_config, parse_config

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_pipeline_toml_gives_the_seed_defaults():
    config = load_config(REPO_ROOT / "pipeline.toml", environ={})

    assert config.collection.city_names == ["Paris"]
    assert config.collection.max_restaurants == 20
    assert config.schedule.expression == "cron(0 8 * * ? *)"
    assert config.retries.max_receive_count == 3
    assert config.timeouts.collector == 600  # the seed said 300 per step; a 10,000-place city needs ~330 s


def test_no_file_at_all_gives_the_same_configuration_as_the_committed_file():
    assert parse_config({}) == load_config(REPO_ROOT / "pipeline.toml", environ={})


def test_unknown_key_is_named_with_the_allowed_keys():
    with pytest.raises(ConfigError) as error:
        parse_config({"collection": {"citys": ["Paris"]}})

    message = str(error.value)
    assert "collection.citys: unknown key" in message
    assert "cities" in message and "max_restaurants" in message


def test_unknown_city_field_is_named_with_the_allowed_fields():
    with pytest.raises(ConfigError) as error:
        parse_config({"collection": {"cities": ["Paris", {"name": "Lyon", "population": 5}]}})

    message = str(error.value)
    assert "collection.cities.1.population: unknown key" in message
    assert "name, max_restaurants, query, language" in message


@pytest.mark.parametrize(
    ("expression", "hint"),
    [
        ("every day at 8", "cron(...) or rate(...)"),
        ("cron(0 8 * * *)", "six fields"),
        ("cron(0 8 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("rate(1 hours)", "rate(1 hour)"),
        ("rate(0 minutes)", "positive number"),
        ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
    ],
)
def test_invalid_schedule_expression_says_what_is_allowed(expression, hint):
    with pytest.raises(ConfigError) as error:
        parse_config({"schedule": {"expression": expression}})

    assert "schedule.expression" in str(error.value)
    assert hint in str(error.value)


def test_negative_count_names_key_value_and_bound():
    with pytest.raises(ConfigError) as error:
        parse_config({"collection": {"max_restaurants": -5}})

    assert "collection.max_restaurants = -5: Input should be greater than 0" in str(error.value)


def test_malformed_email_is_rejected_with_an_example():
    with pytest.raises(ConfigError) as error:
        parse_config({"notifications": {"email": "not-an-email"}})

    assert "notifications.email = 'not-an-email'" in str(error.value)
    assert "data-team@example.com" in str(error.value)


def test_field_mask_without_next_page_token_is_refused():
    with pytest.raises(ConfigError, match="nextPageToken"):
        parse_config({"places": {"field_mask": ["places.id", "places.displayName"]}})


def test_a_field_added_to_the_records_is_requested_by_a_stack_configured_by_the_committed_file(monkeypatch):
    # as if RawPlace (contracts/records.py) had gained websiteUri: the generated mask has it
    generated = (*config_module.DEFAULT_FIELD_MASK, "places.websiteUri")
    monkeypatch.setattr(config_module, "DEFAULT_FIELD_MASK", generated)

    config = load_config(REPO_ROOT / "pipeline.toml", environ={})

    assert config.effective_field_mask == list(generated)


def test_a_field_mask_override_must_ask_for_every_field_the_records_read():
    narrow = [path for path in DEFAULT_FIELD_MASK if path not in ("places.rating", "places.types")]

    with pytest.raises(ConfigError) as error:
        parse_config({"places": {"field_mask": narrow}})

    problem = str(error.value).splitlines()[1]
    assert problem.startswith("  - places.field_mask = ")
    assert "leaves out places.rating, places.types, which the transformer's records read" in problem
    assert "delete field_mask to send the mask generated from those records" in problem
    wider = [*DEFAULT_FIELD_MASK, "places.websiteUri"]
    assert parse_config({"places": {"field_mask": wider}}).effective_field_mask == wider
    assert parse_config({"places": {"field_mask": ["*"]}}).effective_field_mask == ["*"]


def test_environment_overrides_win_over_the_file(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text('[collection]\ncities = ["Paris"]\n[schedule]\nexpression = "cron(0 8 * * ? *)"\n')

    config = load_config(
        path,
        environ={
            "PIPELINE__COLLECTION__CITIES": '["Lyon", "Lille"]',
            "PIPELINE__SCHEDULE__EXPRESSION": "rate(12 hours)",
            "UNRELATED": "x",
        },
    )

    assert config.collection.city_names == ["Lyon", "Lille"]
    assert config.schedule.parsed.rate_seconds == 12 * 3600


def test_an_invalid_override_names_its_environment_variable_not_the_file(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text("[collection]\nmax_restaurants = 20\n")

    with pytest.raises(ConfigError) as error:
        load_config(path, environ={"PIPELINE__COLLECTION__MAX_RESTAURANTS": "-5"})

    message = str(error.value)
    assert "set by the environment variable PIPELINE__COLLECTION__MAX_RESTAURANTS" in message
    assert message.startswith(f"{path} and PIPELINE__ environment variables: 1 problem(s)")


def test_an_unknown_key_set_by_an_override_names_its_environment_variable(tmp_path):
    with pytest.raises(ConfigError, match="unknown key \\(set by the environment variable PIPELINE__PLACES__COLOUR"):
        load_config(None, environ={"PIPELINE__PLACES__COLOUR": "blue"})


def test_a_problem_in_the_file_still_names_the_file_alone(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text("[collection]\nmax_restaurants = -5\n")

    with pytest.raises(ConfigError) as error:
        load_config(path, environ={"PIPELINE__SCHEDULE__EXPRESSION": "rate(1 day)"})

    assert str(error.value).startswith(f"{path}: 1 problem(s)") and "environment" not in str(error.value)


def test_malformed_override_name_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="PIPELINE__<SECTION>__<KEY>"):
        load_config(None, environ={"PIPELINE__MAX_RESTAURANTS": "5"})


def test_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text("[collection\ncities = 1\n")

    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


def test_nlp_adds_reviews_to_the_field_mask_only_when_enabled():
    assert "places.reviews" not in parse_config({}).effective_field_mask
    assert "places.reviews" in parse_config({"nlp": {"enabled": True}}).effective_field_mask


def test_the_stack_region_is_pipeline_toml_s_and_an_agreeing_environment_changes_nothing():
    from restaurant_pipeline.model.config import deployment_region

    assert deployment_region(parse_config({}), {}) == "eu-west-3"
    assert deployment_region(parse_config({}), {"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-3"}) == (
        "eu-west-3"
    )
    overridden = load_config(REPO_ROOT / "pipeline.toml", environ={"PIPELINE__AWS__REGION": "us-east-1"})
    assert deployment_region(overridden, {"AWS_REGION": "us-east-1"}) == "us-east-1"


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_an_environment_region_that_disagrees_with_pipeline_toml_is_named_with_both_fixes(variable):
    from restaurant_pipeline.model.config import deployment_region

    with pytest.raises(ConfigError) as error:
        deployment_region(parse_config({}), {variable: "us-east-1"})

    message = str(error.value)
    assert f"{variable}=us-east-1, but the stack's region is eu-west-3 (pipeline.toml [aws] region)" in message
    assert 'set [aws] region = "us-east-1"' in message and f"`export {variable}=eu-west-3`" in message


def test_aws_commands_look_for_the_stack_in_pipeline_toml_s_region_only(monkeypatch, tmp_path):
    from restaurant_pipeline.target import aws_target

    monkeypatch.chdir(tmp_path)  # no pipeline.toml here: the defaults (eu-west-3)
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # CloudShell opened on another region
    with pytest.raises(RuntimeError, match=r"AWS_REGION=us-east-1, but the stack's region is eu-west-3"):
        aws_target()


@pytest.mark.parametrize(
    ("cities", "first", "second"),
    [
        (["Saint-Étienne", "Lyon", "saint etienne"], "Saint-Étienne", "saint etienne"),  # accents, case, spaces
        (["Paris", "PARIS"], "Paris", "PARIS"),
        (["A" * 60 + "-nord", "a" * 60 + "-sud"], "A" * 60 + "-nord", "a" * 60 + "-sud"),  # alike past 60 characters
    ],
)
def test_two_spellings_of_one_city_are_refused_naming_both(tmp_path, cities, first, second):
    path = tmp_path / "pipeline.toml"
    path.write_text("[collection]\ncities = [" + ", ".join(f'"{city}"' for city in cities) + "]\n", encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})

    message = str(error.value)
    assert "each city once" in message and repr(first) in message and repr(second) in message
    assert "Keep one spelling" in message


def test_an_environment_override_naming_one_city_twice_is_refused_too():
    with pytest.raises(ConfigError, match="'Nîmes' and 'nimes' are both 'nimes'"):
        load_config(None, environ={"PIPELINE__COLLECTION__CITIES": '["Nîmes", "nimes"]'})
