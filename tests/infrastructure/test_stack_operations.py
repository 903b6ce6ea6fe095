"""What operators rely on: the email subscription, dashboard, tables, Glue, Athena, outputs (alarms: test_alarms.py)."""

from __future__ import annotations

from aws_cdk.assertions import Match

from contracts.records import RAW_COLUMNS, TABLE_NAME
from restaurant_pipeline.model.stack_outputs import OUTPUT_DASHBOARD, REQUIRED_OUTPUTS
from services.common.names import VALIDATED_PREFIX
from tests.infrastructure.conftest import Synthesized


def _topic_id(stack: Synthesized) -> str:
    (key,) = stack.resources("AWS::SNS::Topic")
    return key


def test_email_subscription_exists_only_when_an_email_is_configured(synthesized):
    assert synthesized.default.config.notifications.email == ""
    synthesized.default.assertions.resource_count_is("AWS::SNS::Subscription", 0)
    synthesized.changed.assertions.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "data-team@example.com", "TopicArn": {"Ref": _topic_id(synthesized.changed)}},
    )


def test_the_subscribed_address_is_a_stack_output_so_a_redeploy_can_keep_it(synthesized):
    assert synthesized.changed.template["Outputs"]["NotificationEmail"]["Value"] == "data-team@example.com"
    assert "NotificationEmail" not in synthesized.default.template["Outputs"]


def test_the_bus_archive_has_no_empty_kms_key_identifier(synthesized):
    (archive,) = synthesized.default.resources("AWS::Events::Archive").values()
    assert archive["Properties"]["RetentionDays"] == synthesized.default.config.aws.bus_archive_retention_days
    assert "KmsKeyIdentifier" not in archive["Properties"]
    synthesized.changed.assertions.resource_count_is("AWS::Events::Archive", 0)  # retention 0: no archive


def test_dashboard_is_switchable(synthesized):
    synthesized.default.assertions.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    synthesized.changed.assertions.resource_count_is("AWS::CloudWatch::Dashboard", 0)
    assert OUTPUT_DASHBOARD in synthesized.default.template["Outputs"]
    assert OUTPUT_DASHBOARD not in synthesized.changed.template["Outputs"]


def test_tables_have_the_keys_the_services_use(default_stack):
    default_stack.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    default_stack.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with([{"AttributeName": "sk", "AttributeType": "S"}]),
        },
    )


def test_raw_table_is_partition_projected_on_dt_over_the_validated_prefix(default_stack):
    table = default_stack.one("AWS::Glue::Table")["Properties"]["TableInput"]
    assert table["Name"] == TABLE_NAME
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert VALIDATED_PREFIX + "dt=${dt}/" in str(parameters["storage.location.template"])
    columns = table["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [(name.lower(), kind) for name, kind in RAW_COLUMNS]


def test_the_stack_creates_the_dbt_test_audit_database_and_deletes_it_with_the_stack(default_stack):
    databases = {
        d["Properties"]["DatabaseInput"]["Name"]: d for d in default_stack.resources("AWS::Glue::Database").values()
    }
    # dbt's "<target schema>_dbt_test__audit" (the athena target's schema is the pipeline database)
    assert set(databases) == {"restaurant_pipeline", "restaurant_pipeline_dbt_test__audit"}
    # removed on destroy: Glue deletes the database's tables and views with it
    assert databases["restaurant_pipeline_dbt_test__audit"].get("DeletionPolicy", "Delete") == "Delete"


def test_athena_work_group_enforces_encrypted_results_and_the_scan_cutoff(synthesized):
    for stack in (synthesized.default, synthesized.changed):
        configuration = stack.one("AWS::Athena::WorkGroup")["Properties"]["WorkGroupConfiguration"]
        assert configuration["EnforceWorkGroupConfiguration"] is True
        assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
        assert configuration["BytesScannedCutoffPerQuery"] == stack.config.aws.athena_bytes_scanned_cutoff_mb * 2**20
    assert synthesized.changed.config.aws.athena_bytes_scanned_cutoff_mb == 200


def test_places_key_lives_in_secrets_manager_not_in_the_template(default_stack):
    default_stack.assertions.resource_count_is("AWS::SecretsManager::Secret", 1)
    secret = default_stack.one("AWS::SecretsManager::Secret")["Properties"]
    assert "SecretString" not in secret
    # created empty, not with a random value that the collector would send to Google as a key
    assert "GenerateSecretString" not in secret


def test_the_schedule_is_off_unless_deploy_says_the_key_is_stored(default_stack):
    schedule = default_stack.one("AWS::Scheduler::Schedule")["Properties"]
    assert schedule["State"] == {"Ref": "ScheduleState"}
    parameter = default_stack.template["Parameters"]["ScheduleState"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("DISABLED", ["ENABLED", "DISABLED"])


def test_stack_outputs_name_everything_the_cli_needs(synthesized):
    for stack in (synthesized.default, synthesized.changed):
        missing = set(REQUIRED_OUTPUTS) - set(stack.template["Outputs"])
        assert missing == set()
