"""Provisioning infra/template.json on moto (in-process ``mock_aws``): what `make run` creates before the app starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.local.environment import check_environment, stage_environment
from chalicelib.local.provision import ProvisionError, ProvisionResult, provision
from tests.conftest import REPO_ROOT

TEMPLATE = REPO_ROOT / "infra" / "template.json"
LOCAL = {"Stage": "local"}
TABLE = "sleeve-local"
BUCKET = "sleeve-local-media-123456789012-us-east-1"
QUEUES = [
    "sleeve-local-ingest",
    "sleeve-local-ingest-dlq",
    "sleeve-local-dsp-sync",
    "sleeve-local-dsp-sync-dlq",
    "sleeve-local-cleanup",
    "sleeve-local-cleanup-dlq",
    "sleeve-local-jobs",
    "sleeve-local-jobs-dlq",
    "sleeve-local-imports",
    "sleeve-local-imports-dlq",
    "sleeve-local-generate",
    "sleeve-local-generate-dlq",
    "sleeve-local-backfill",
    "sleeve-local-backfill-dlq",
]
INGEST, INGEST_DLQ, SYNC, SYNC_DLQ, CLEANUP, CLEANUP_DLQ, JOBS, JOBS_DLQ = QUEUES[:8]
INGEST_ARN = f"arn:aws:sqs:us-east-1:123456789012:{INGEST}"
DLQ_ARN = f"arn:aws:sqs:us-east-1:123456789012:{INGEST_DLQ}"
SYNC_ARN = f"arn:aws:sqs:us-east-1:123456789012:{SYNC}"
SYNC_DLQ_ARN = f"arn:aws:sqs:us-east-1:123456789012:{SYNC_DLQ}"
EXPECTED_INDEXES = {
    f"gsi{n}": (
        [{"AttributeName": f"gsi{n}pk", "KeyType": "HASH"}, {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"}],
        {"ProjectionType": "ALL"},
    )
    for n in (1, 2, 3, 4)
}


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A boto3 session inside ``mock_aws`` (no endpoint override leaking in from the shell)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def provisioned(session: boto3.Session) -> ProvisionResult:
    return provision(TEMPLATE, session, account_id="123456789012", region="us-east-1", parameters=LOCAL)


def _indexes(table: dict[str, Any]) -> dict[str, tuple[list[dict[str, str]], dict[str, str]]]:
    """A described table's GSIs: name → (key schema, projection)."""
    return {gsi["IndexName"]: (gsi["KeySchema"], gsi["Projection"]) for gsi in table.get("GlobalSecondaryIndexes", [])}


def _messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return messages


def test_result_names_every_physical_resource(provisioned: ProvisionResult) -> None:
    assert provisioned["table_name"] == TABLE
    assert provisioned["bucket_name"] == BUCKET
    assert set(provisioned["queue_urls"]) == set(QUEUES)
    assert provisioned["queue_arns"] == {name: f"arn:aws:sqs:us-east-1:123456789012:{name}" for name in QUEUES}
    assert provisioned["outputs"] == {
        "TableName": TABLE,
        "BucketName": BUCKET,
        "IngestQueueUrl": provisioned["queue_urls"][INGEST],
        "SyncQueueUrl": provisioned["queue_urls"][SYNC],
        "CleanupQueueUrl": provisioned["queue_urls"][CLEANUP],
        "JobsQueueUrl": provisioned["queue_urls"][JOBS],
        "ImportsQueueUrl": provisioned["queue_urls"]["sleeve-local-imports"],
        "GenerateQueueUrl": provisioned["queue_urls"]["sleeve-local-generate"],
        "BackfillQueueUrl": provisioned["queue_urls"]["sleeve-local-backfill"],
    }
    # The CloudWatch alarms and API Gateway's gateway responses are AWS-only: skipped, not an error
    assert [name for name in provisioned["skipped"] if not name.startswith("GatewayResponse")] == [
        "BackfillDeadLetterAlarm",
        "CleanupDeadLetterAlarm",
        "GenerateDeadLetterAlarm",
        "ImportsDeadLetterAlarm",
        "IngestDeadLetterAlarm",
        "JobsDeadLetterAlarm",
        "SyncDeadLetterAlarm",
    ]


def test_table_has_the_template_keys_indexes_and_backups(session: boto3.Session, provisioned: ProvisionResult) -> None:
    dynamodb = session.client("dynamodb")

    table = dynamodb.describe_table(TableName=TABLE)["Table"]

    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert _indexes(table) == EXPECTED_INDEXES
    backups = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    # Webhook receipts expire through the table's TTL attribute (epoch seconds)
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_a_table_from_an_older_template_gets_the_new_indexes(session: boto3.Session, tmp_path: Path) -> None:
    # Given: the table as a template with gsi1 only made it (a developer's moto that outlived the template change)
    template = json.loads(TEMPLATE.read_text())
    table = template["Resources"]["SleeveTable"]["Properties"]
    old = {
        **table,
        "AttributeDefinitions": [
            a for a in table["AttributeDefinitions"] if a["AttributeName"][:4] not in ("gsi2", "gsi3", "gsi4")
        ],
        "GlobalSecondaryIndexes": [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "gsi1"],
    }
    old["TableName"] = TABLE
    provision(_write(tmp_path, {"SleeveTable": {"Type": "AWS::DynamoDB::Table", "Properties": old}}), session)
    dynamodb = session.client("dynamodb")
    assert set(_indexes(dynamodb.describe_table(TableName=TABLE)["Table"])) == {"gsi1"}

    # When
    provision(TEMPLATE, session, account_id="123456789012", region="us-east-1", parameters=LOCAL)

    # Then
    assert _indexes(dynamodb.describe_table(TableName=TABLE)["Table"]) == EXPECTED_INDEXES


def test_the_sync_index_is_sparse(session: boto3.Session, provisioned: ProvisionResult) -> None:
    # Given: two releases, one of them due for DSP sync
    dynamodb = session.client("dynamodb")
    due = {"gsi3pk": {"S": "DSP_SYNC_DUE"}, "gsi3sk": {"S": "2025-03-07T09:30:00+00:00#r1"}}
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "RELEASE#r1"}, "sk": {"S": "RELEASE"}, **due})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "RELEASE#r2"}, "sk": {"S": "RELEASE"}})

    # When
    found = dynamodb.query(
        TableName=TABLE,
        IndexName="gsi3",
        KeyConditionExpression="gsi3pk = :due AND gsi3sk < :until",
        ExpressionAttributeValues={":due": {"S": "DSP_SYNC_DUE"}, ":until": {"S": "2025-03-08"}},
    )

    # Then
    assert [item["pk"]["S"] for item in found["Items"]] == ["RELEASE#r1"]
    assert dynamodb.scan(TableName=TABLE, IndexName="gsi3")["Count"] == 1


def test_queues_have_redrive_and_the_bucket_policy(session: boto3.Session, provisioned: ProvisionResult) -> None:
    sqs = session.client("sqs")

    ingest = sqs.get_queue_attributes(QueueUrl=provisioned["queue_urls"][INGEST], AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=provisioned["queue_urls"][INGEST_DLQ], AttributeNames=["All"])

    attributes = ingest["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5}
    assert attributes["VisibilityTimeout"] == "360"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Resource"] == INGEST_ARN
    # Fn::Sub with ${AWS::AccountId} and ${AWS::Region} resolved
    assert statement["Condition"] == {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"}}
    sync = sqs.get_queue_attributes(QueueUrl=provisioned["queue_urls"][SYNC], AttributeNames=["All"])
    sync_dlq = sqs.get_queue_attributes(QueueUrl=provisioned["queue_urls"][SYNC_DLQ], AttributeNames=["All"])
    assert json.loads(sync["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": SYNC_DLQ_ARN,
        "maxReceiveCount": 5,
    }
    # Six times the sync worker's 120 s timeout (tests/integration/test_infra.py)
    assert sync["Attributes"]["VisibilityTimeout"] == "720"
    assert sync["Attributes"]["MessageRetentionPeriod"] == "1209600"
    assert sync_dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"
    # Only the ingest queue takes S3 notifications
    assert "Policy" not in sync["Attributes"]


def test_the_cleanup_queue_dead_letters_after_five_receives(
    session: boto3.Session, provisioned: ProvisionResult
) -> None:
    # Given: the template provisioned for the local stage
    sqs = session.client("sqs")

    # When
    cleanup = sqs.get_queue_attributes(QueueUrl=provisioned["queue_urls"][CLEANUP], AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=provisioned["queue_urls"][CLEANUP_DLQ], AttributeNames=["All"])

    # Then: like the DSP-sync queue, 14 days of retention for an outage and a DLQ after five receives
    assert json.loads(cleanup["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": provisioned["queue_arns"][CLEANUP_DLQ],
        "maxReceiveCount": 5,
    }
    assert cleanup["Attributes"]["VisibilityTimeout"] == "360"
    assert cleanup["Attributes"]["MessageRetentionPeriod"] == "1209600"
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"
    assert "Policy" not in cleanup["Attributes"]


def test_bucket_has_cors_lifecycle_public_access_block_and_notifications(
    session: boto3.Session, provisioned: ProvisionResult
) -> None:
    s3 = session.client("s3")

    assert s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == [
        {
            "AllowedMethods": ["POST", "GET", "HEAD"],
            "AllowedOrigins": ["*"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Location"],
            "MaxAgeSeconds": 3000,
        }
    ]
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["ID"] == "expire-uploads"
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "uploads/"}
    assert rule["Expiration"] == {"Days": 30}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    (queue_config,) = s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
    assert queue_config["QueueArn"] == INGEST_ARN
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    assert queue_config["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}


def test_uploads_and_only_uploads_notify_the_ingest_queue(session: boto3.Session, provisioned: ProvisionResult) -> None:
    # Given
    s3, sqs = session.client("s3"), session.client("sqs")
    url = provisioned["queue_urls"][INGEST]
    _messages(sqs, url)  # the s3:TestEvent sent when the notification was configured

    # When
    s3.put_object(Bucket=BUCKET, Key="media/alice/a1/large.webp", Body=b"not an upload")
    s3.put_object(Bucket=BUCKET, Key="uploads/alice/u1", Body=b"an upload")

    # Then
    (message,) = _messages(sqs, url)
    (record,) = json.loads(message["Body"])["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == BUCKET


def test_provisioning_twice_changes_nothing(session: boto3.Session, provisioned: ProvisionResult) -> None:
    # Given
    sqs = session.client("sqs")
    url = provisioned["queue_urls"][INGEST]

    # When
    again = provision(TEMPLATE, session, account_id="123456789012", region="us-east-1", parameters=LOCAL)

    # Then: same resources, and the unchanged notification was not put again (no second s3:TestEvent)
    assert again == provisioned
    test_events = [m for m in _messages(sqs, url) if json.loads(m["Body"]).get("Event") == "s3:TestEvent"]
    assert len(test_events) == 1


def test_template_names_match_the_local_stage_environment(provisioned: ProvisionResult) -> None:
    # .chalice/config.json (local stage) and infra/template.json must not drift: the stack refuses to start otherwise
    check_environment(stage_environment(REPO_ROOT, "local"), provisioned)


def test_clients_mapping_is_accepted(session: boto3.Session) -> None:
    clients = {name: session.client(name) for name in ("dynamodb", "s3", "sqs")}

    result = provision(TEMPLATE, clients, account_id="123456789012", region="us-east-1", parameters=LOCAL)

    assert result["bucket_name"] == BUCKET


def _write(tmp_path: Path, resources: dict[str, Any], **extra: Any) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"Resources": resources, **extra}))
    return path


def test_intrinsics_resolve_and_unnamed_resources_get_stack_names(session: boto3.Session, tmp_path: Path) -> None:
    # Given: Fn::Sub with variables and a GetAtt, GetAtt in "A.B" form, Fn::Join, Ref to a parameter default
    template = _write(
        tmp_path,
        {
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": {"Fn::Sub": ["${Prefix}-${Env}-${Dlq.QueueName}", {"Env": {"Ref": "Env"}}]},
                    "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": "Dlq.Arn"}, "maxReceiveCount": 2},
                },
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": {"Fn::Join": ["-", ["b", {"Ref": "AWS::Region"}]]}},
            },
        },
        Parameters={"Env": {"Type": "String", "Default": "dev"}, "Prefix": {"Type": "String", "Default": "p"}},
    )

    # When
    result = provision(template, session, stack_name="teststack")

    # Then
    assert set(result["queue_urls"]) == {"teststack-Dlq", "p-dev-teststack-Dlq"}
    assert result["bucket_name"] == "b-us-east-1"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {
                "Topic": {"Type": "AWS::SNS::Topic"},
                "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Topic"}}},
            },
            "skipped locally",
        ),
        ({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::ImportValue": "x"}}}}, "Fn::ImportValue"),
        ({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nowhere"}}}}, "not provisioned"),
        (
            {
                "A": {"Type": "AWS::SQS::Queue", "DependsOn": "B"},
                "B": {"Type": "AWS::SQS::Queue", "DependsOn": "A"},
            },
            "cycle",
        ),
    ],
)
def test_template_errors_are_named(
    session: boto3.Session, tmp_path: Path, resources: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProvisionError, match=message):
        provision(_write(tmp_path, resources), session)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "parameter Stage has no value"),
        ({"Stage": "staging"}, r"Stage='staging' is not one of \['local', 'dev', 'prod'\]"),
        ({"Stage": "local", "Env": "x"}, r"parameters \['Env'\] are not declared"),
    ],
)
def test_the_stage_parameter_is_required_and_checked(
    session: boto3.Session, parameters: dict[str, str], message: str
) -> None:
    # Given: the real template, whose names all carry the Stage parameter (no default, as in AWS)
    # When / Then: refused before anything is created, as CloudFormation refuses the stack
    with pytest.raises(ProvisionError, match=message):
        provision(TEMPLATE, session, parameters=parameters)
    assert session.client("dynamodb").list_tables()["TableNames"] == []


def test_two_stages_share_an_account_without_sharing_a_resource(session: boto3.Session) -> None:
    # Given: the local stage provisioned
    local = provision(TEMPLATE, session, parameters=LOCAL)

    # When: the dev stage is provisioned in the same account and region
    dev = provision(TEMPLATE, session, parameters={"Stage": "dev"})

    # Then: every name differs, and each bucket notifies its own stage's ingest queue
    assert dev["table_name"] == "sleeve-dev"
    assert dev["bucket_name"] == "sleeve-dev-media-123456789012-us-east-1"
    assert set(dev["queue_urls"]) == {name.replace("sleeve-local-", "sleeve-dev-") for name in QUEUES}
    assert not set(dev["queue_urls"]) & set(local["queue_urls"])
    assert sorted(session.client("dynamodb").list_tables()["TableNames"]) == ["sleeve-dev", TABLE]
    s3 = session.client("s3")
    for stage, result in (("local", local), ("dev", dev)):
        (config,) = s3.get_bucket_notification_configuration(Bucket=result["bucket_name"])["QueueConfigurations"]
        assert config["QueueArn"] == result["queue_arns"][f"sleeve-{stage}-ingest"]
