"""infra/ is the one declaration: names the code and the local stage use must match it."""

from __future__ import annotations

import json

from chalicelib.config import Settings
from chalicelib.workers.queues import INGEST_DEAD_LETTER_QUEUE, INGEST_QUEUE, SYNC_DEAD_LETTER_QUEUE, SYNC_QUEUE
from tests.conftest import REPO_ROOT


def _template() -> dict:
    return json.loads((REPO_ROOT / "infra" / "template.json").read_text())


def _policy_actions() -> set[str]:
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    policy = json.loads((REPO_ROOT / ".chalice" / config["iam_policy_file"]).read_text())
    return {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_queue_and_table_names_match_the_template():
    resources = _template()["Resources"]
    assert resources["IngestQueue"]["Properties"]["QueueName"] == INGEST_QUEUE
    assert resources["IngestDeadLetterQueue"]["Properties"]["QueueName"] == INGEST_DEAD_LETTER_QUEUE
    assert resources["SyncQueue"]["Properties"]["QueueName"] == SYNC_QUEUE
    assert resources["SyncDeadLetterQueue"]["Properties"]["QueueName"] == SYNC_DEAD_LETTER_QUEUE
    defaults = Settings(bucket_name="b", jwt_secret="s")
    assert resources["SleeveTable"]["Properties"]["TableName"] == defaults.table_name
    assert defaults.ingest_queue_name == INGEST_QUEUE
    assert defaults.sync_queue_name == SYNC_QUEUE
    variables = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())["environment_variables"]
    assert variables["SLEEVE_SYNC_QUEUE_NAME"] == SYNC_QUEUE


def test_the_sync_queue_dead_letters_and_its_dead_letters_raise_an_alarm():
    resources = _template()["Resources"]
    sync = resources["SyncQueue"]["Properties"]
    assert sync["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    # Lambda asks for a visibility timeout of at least six times the consumer's timeout ("Using Lambda with Amazon
    # SQS"): 360 s leaves the DSP worker up to 60 s. Messages wait up to 14 days (the SQS maximum) for a DSP outage.
    assert sync["VisibilityTimeout"] == 360
    assert sync["MessageRetentionPeriod"] == resources["SyncDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    assert sync["MessageRetentionPeriod"] == 1209600
    alarm = resources["SyncDeadLetterAlarm"]["Properties"]
    ingest_alarm = resources["IngestDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["SyncDeadLetterQueue", "QueueName"]}}]
    shared = set(ingest_alarm) - {"AlarmName", "AlarmDescription", "Dimensions"}
    assert {key: alarm[key] for key in shared} == {key: ingest_alarm[key] for key in shared}
    assert _template()["Outputs"]["SyncQueueUrl"] == {"Value": {"Ref": "SyncQueue"}}


def test_the_table_declares_the_three_indexes_and_their_key_attributes():
    table = _template()["Resources"]["SleeveTable"]["Properties"]
    indexes = {
        index["IndexName"]: (
            [(key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {f"gsi{n}": ([(f"gsi{n}pk", "HASH"), (f"gsi{n}sk", "RANGE")], "ALL") for n in (1, 2, 3)}
    declared = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert declared == {"pk": "S", "sk": "S"} | {f"gsi{n}{k}": "S" for n in (1, 2, 3) for k in ("pk", "sk")}


def test_the_ingest_queue_dead_letters_and_the_bucket_notifies_it():
    resources = _template()["Resources"]
    redrive = resources["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}
    queue_configs = resources["MediaBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert queue_configs[0]["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]


def test_the_local_stage_names_the_bucket_the_template_makes_locally():
    stage = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())["stages"]["local"]
    bucket = _template()["Resources"]["MediaBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    expected = bucket.replace("${AWS::AccountId}", "123456789012").replace("${AWS::Region}", "us-east-1")
    assert stage["environment_variables"]["SLEEVE_BUCKET_NAME"] == expected


def test_worker_function_settings_name_real_handlers():
    from app import app

    handlers = {source.name for source in app.event_sources}
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    for stage in ("dev", "prod"):
        assert set(config["stages"][stage]["lambda_functions"]) <= handlers


def test_function_roles_reach_the_resources_the_template_names():
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False
    policy = json.loads((REPO_ROOT / ".chalice" / config["iam_policy_file"]).read_text())
    resources = {
        r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    template = _template()["Resources"]
    assert f"arn:*:dynamodb:*:*:table/{template['SleeveTable']['Properties']['TableName']}" in resources
    bucket_prefix = template["MediaBucket"]["Properties"]["BucketName"]["Fn::Sub"].split("${")[0]
    assert f"arn:*:s3:::{bucket_prefix}*/uploads/*" in resources
    assert any(r.endswith(":sleeve-*") for r in resources if r.startswith("arn:*:sqs"))


def test_function_roles_may_write_in_transactions_and_batches_and_look_up_queues():
    # Release lifecycle changes are transactions, release deletes batch writes; MessageQueue resolves URLs by name
    assert {"dynamodb:TransactWriteItems", "dynamodb:BatchWriteItem", "sqs:GetQueueUrl"} <= _policy_actions()
