"""infra/ is the one declaration: names the code and the local stage use must match it."""

from __future__ import annotations

import json

from chalicelib.config import Settings
from chalicelib.workers.queues import INGEST_DEAD_LETTER_QUEUE, INGEST_QUEUE
from tests.conftest import REPO_ROOT


def _template() -> dict:
    return json.loads((REPO_ROOT / "infra" / "template.json").read_text())


def test_queue_and_table_names_match_the_template():
    resources = _template()["Resources"]
    assert resources["IngestQueue"]["Properties"]["QueueName"] == INGEST_QUEUE
    assert resources["IngestDeadLetterQueue"]["Properties"]["QueueName"] == INGEST_DEAD_LETTER_QUEUE
    defaults = Settings(bucket_name="b", jwt_secret="s")
    assert resources["SleeveTable"]["Properties"]["TableName"] == defaults.table_name
    assert defaults.ingest_queue_name == INGEST_QUEUE


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
