"""infra/ is the one declaration: the names that .chalice/config.json, Settings, the workers and the local stack use
must be the ones it makes for each stage, and the package `chalice package --merge-template` builds must be deployable.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import Settings
from chalicelib.local.environment import stage_environment
from chalicelib.local.provision import provision
from chalicelib.workers import queues
from tests.conftest import REPO_ROOT

STAGES = ("local", "dev", "prod")
DEPLOYED_STAGES = ("dev", "prod")
ACCOUNT, REGION = "123456789012", "us-east-1"
TEMPLATE = REPO_ROOT / "infra" / "template.json"
# Lambda's python3.11 runtime can no longer be created (AWS Lambda runtimes: deprecation); 3.12 runs on AL2023.
RUNTIME = "python3.12"

# `chalice package` without building the Lambda bundle (no pip, no network): an empty zip stands in for it. Run in a
# child process because Chalice puts the stage's environment_variables in os.environ before it imports app.py.
_PACKAGE = """
import os, sys, tempfile, zipfile
from chalice.deploy import deployer
bundle = os.path.join(tempfile.mkdtemp(), "deployment.zip")
zipfile.ZipFile(bundle, "w").close()
def handle_deploymentpackage(self, config, resource):
    resource.filename = bundle
deployer.DeploymentPackager.handle_deploymentpackage = handle_deploymentpackage
from chalice.cli import main
sys.argv = ["chalice", "--project-dir", sys.argv[1], "package", "--stage", sys.argv[2],
            "--merge-template", "infra/template.json", sys.argv[3]]
sys.exit(main())
"""


def _template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def _config() -> dict[str, Any]:
    return json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())


def _policy() -> dict[str, Any]:
    return json.loads((REPO_ROOT / ".chalice" / _config()["iam_policy_file"]).read_text())


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _allows(action: str, resource: str) -> bool:
    """Whether the functions' policy allows ``action`` on ``resource`` (IAM's ``*`` wildcard, as fnmatch reads it)."""
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(statement["Action"]))
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(statement["Resource"]))
        for statement in _policy()["Statement"]
    )


def _stage_names(stage: str) -> dict[str, str]:
    """What ``stage`` must call its resources (the issue's naming rule, written out once)."""
    return {
        "table": f"sleeve-{stage}",
        "bucket": f"sleeve-{stage}-media-{ACCOUNT}-{REGION}",
        "ingest": f"sleeve-{stage}-ingest",
        "ingest_dlq": f"sleeve-{stage}-ingest-dlq",
        "sync": f"sleeve-{stage}-dsp-sync",
        "sync_dlq": f"sleeve-{stage}-dsp-sync-dlq",
        "cleanup": f"sleeve-{stage}-cleanup",
        "cleanup_dlq": f"sleeve-{stage}-cleanup-dlq",
        "jobs": f"sleeve-{stage}-jobs",
        "jobs_dlq": f"sleeve-{stage}-jobs-dlq",
        "imports": f"sleeve-{stage}-imports",
        "imports_dlq": f"sleeve-{stage}-imports-dlq",
        "generate": f"sleeve-{stage}-generate",
        "generate_dlq": f"sleeve-{stage}-generate-dlq",
        "backfill": f"sleeve-{stage}-backfill",
        "backfill_dlq": f"sleeve-{stage}-backfill-dlq",
    }


@pytest.fixture
def stage_queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:
    """chalicelib.workers.queues as it is imported with ``SLEEVE_STAGE=stage`` (reloaded back afterwards)."""

    def load(stage: str) -> ModuleType:
        monkeypatch.setenv("SLEEVE_STAGE", stage)
        return importlib.reload(queues)

    yield load
    monkeypatch.undo()
    importlib.reload(queues)


@pytest.mark.parametrize("stage", STAGES)
def test_config_settings_workers_and_template_name_the_same_resources(
    stage: str, monkeypatch: pytest.MonkeyPatch, stage_queues: Callable[[str], ModuleType]
) -> None:
    # Given: the names the stage must use, the stage's variables in .chalice/config.json (the dev/prod bucket holds
    # ACCOUNT_ID and REGION placeholders to fill before deploying)
    expected = _stage_names(stage)
    variables = stage_environment(REPO_ROOT, stage)
    bucket = variables["SLEEVE_BUCKET_NAME"].replace("ACCOUNT_ID", ACCOUNT).replace("REGION", REGION)

    # When: Settings read those variables, Settings derive names from the stage alone, the workers' module is
    # imported for the stage, and the template is provisioned with Stage=stage as the local stack does
    for name in [name for name in os.environ if name.startswith("SLEEVE_")]:
        monkeypatch.delenv(name)
    # Secrets stay out of config.json: the deployment supplies them.
    monkeypatch.setenv("SLEEVE_CURSOR_SECRET", "a-cursor-secret-of-at-least-32-characters")
    identity = {"jwt_secret": "s", "cognito_user_pool_id": "p", "cognito_app_client_id": "c"}
    derived = Settings(stage=stage, bucket_name=bucket, **identity)  # type: ignore[arg-type]
    for name, value in variables.items():
        if name != "SLEEVE_CURSOR_SECRET":  # a placeholder in dev/prod, refused until the deployment fills it
            monkeypatch.setenv(name, value)
    configured = Settings()  # type: ignore[call-arg]
    workers = stage_queues(stage)
    with mock_aws():
        provisioned = provision(
            TEMPLATE, boto3.Session(region_name=REGION), account_id=ACCOUNT, region=REGION, parameters={"Stage": stage}
        )

    # Then: one name per resource everywhere
    assert variables["SLEEVE_STAGE"] == stage
    assert bucket == provisioned["bucket_name"] == expected["bucket"]
    for settings in (configured, derived):
        assert settings.table_name == provisioned["table_name"] == expected["table"]
        assert settings.ingest_queue_name == workers.INGEST_QUEUE == expected["ingest"]
        assert settings.sync_queue_name == workers.SYNC_QUEUE == expected["sync"]
        assert settings.cleanup_queue_name == workers.CLEANUP_QUEUE == expected["cleanup"]
        assert settings.jobs_queue_name == workers.JOBS_QUEUE == expected["jobs"]
        assert settings.imports_queue_name == workers.IMPORTS_QUEUE == expected["imports"]
        assert settings.generate_queue_name == workers.GENERATE_QUEUE == expected["generate"]
        assert settings.backfill_queue_name == workers.BACKFILL_QUEUE == expected["backfill"]
    dead_letters = (
        workers.INGEST_DEAD_LETTER_QUEUE,
        workers.SYNC_DEAD_LETTER_QUEUE,
        workers.CLEANUP_DEAD_LETTER_QUEUE,
        workers.JOBS_DEAD_LETTER_QUEUE,
        workers.IMPORTS_DEAD_LETTER_QUEUE,
        workers.GENERATE_DEAD_LETTER_QUEUE,
        workers.BACKFILL_DEAD_LETTER_QUEUE,
    )
    names = ("ingest", "sync", "cleanup", "jobs", "imports", "generate", "backfill")
    assert dead_letters == tuple(expected[f"{name}_dlq"] for name in names)
    queue_names = {value for key, value in expected.items() if key not in ("table", "bucket")}
    assert set(provisioned["queue_urls"]) == queue_names


def test_the_template_names_every_resource_after_the_stage_parameter() -> None:
    template = _template()
    assert template["Parameters"]["Stage"]["AllowedValues"] == list(STAGES)
    # No default: a deploy must say which stage it is, or it would take another stage's names.
    assert "Default" not in template["Parameters"]["Stage"]
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("TableName", "QueueName", "BucketName", "AlarmName"):
            if key in properties:
                assert properties[key]["Fn::Sub"].startswith("sleeve-${Stage}"), name


@pytest.mark.parametrize(
    ("queue", "dead_letters", "visibility_s"),
    # The DSP sync calls three outside APIs one request at a time (a 429's Retry-After is honoured up to 30 s), so its
    # consumer may run 120 s: 720 s. The cleanup consumer runs up to 60 s: 360 s. The jobs consumer downloads a
    # Replicate output (30 s cap), tops it up with Lanczos and PUTs it: 120 s, so 720 s.
    [("Sync", "SyncDeadLetter", 720), ("Cleanup", "CleanupDeadLetter", 360), ("Jobs", "JobsDeadLetter", 720)],
)
def test_queues_dead_letter_after_five_receives_and_their_dead_letters_raise_an_alarm(
    queue: str, dead_letters: str, visibility_s: int
) -> None:
    resources = _template()["Resources"]
    properties = resources[f"{queue}Queue"]["Properties"]
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [f"{dead_letters}Queue", "Arn"]},
        "maxReceiveCount": 5,
    }
    # Six times the consumer's timeout (test_every_queue_outlasts_its_consumers_timeout). Messages wait up to 14 days
    # (the SQS maximum) through an outage.
    assert properties["VisibilityTimeout"] == visibility_s
    assert properties["MessageRetentionPeriod"] == 1209600
    assert resources[f"{dead_letters}Queue"]["Properties"]["MessageRetentionPeriod"] == 1209600
    alarm = resources[f"{dead_letters}Alarm"]["Properties"]
    ingest_alarm = resources["IngestDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{dead_letters}Queue", "QueueName"]}}
    ]
    shared = set(ingest_alarm) - {"AlarmName", "AlarmDescription", "Dimensions"}
    assert {key: alarm[key] for key in shared} == {key: ingest_alarm[key] for key in shared}
    assert _template()["Outputs"][f"{queue}QueueUrl"] == {"Value": {"Ref": f"{queue}Queue"}}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_queue_outlasts_its_consumers_timeout(stage: str) -> None:
    # Given every SQS consumer of the app (queue names of the stage it was imported for), its Lambda timeout in the
    # deployed stage, and the template's queues by name
    from chalice.app import SQSEventConfig

    from app import app

    config = _config()
    functions = config["stages"][stage]["lambda_functions"]
    queue_of = {
        resource["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", queues.STAGE): resource["Properties"]
        for resource in _template()["Resources"].values()
        if resource.get("Type") == "AWS::SQS::Queue"
    }
    consumers = [source for source in app.event_sources if isinstance(source, SQSEventConfig)]
    assert {source.name for source in consumers} >= {"handle_ingest", "handle_cleanup", "handle_dsp_sync", "handle_job"}
    for source in consumers:
        timeout = functions.get(source.name, {}).get("lambda_timeout", config["lambda_timeout"])
        queue = queue_of[source.queue]
        visibility = queue.get("VisibilityTimeout", 30)  # the SQS default
        # Then Lambda can map the queue (it refuses a visibility timeout below the function's timeout), and a queue
        # that dead-letters hides a received message for six times the consumer's timeout ("Using Lambda with Amazon
        # SQS"), so a run still going is not delivered again, counted as a receive, and dead-lettered early
        assert timeout <= visibility, (source.name, timeout, visibility)
        if "RedrivePolicy" in queue:
            assert timeout * 6 <= visibility, (source.name, timeout, visibility)


def test_the_table_declares_the_four_indexes_and_their_key_attributes() -> None:
    table = _template()["Resources"]["SleeveTable"]["Properties"]
    indexes = {
        index["IndexName"]: (
            [(key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {f"gsi{n}": ([(f"gsi{n}pk", "HASH"), (f"gsi{n}sk", "RANGE")], "ALL") for n in (1, 2, 3, 4)}
    declared = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert declared == {"pk": "S", "sk": "S"} | {f"gsi{n}{k}": "S" for n in (1, 2, 3, 4) for k in ("pk", "sk")}


def test_webhook_receipts_expire_through_the_tables_ttl_attribute() -> None:
    # Given: the table's TTL declaration and the receipt record's TTL attribute
    from chalicelib.store.records import WebhookReceiptRecord

    table = _template()["Resources"]["SleeveTable"]["Properties"]

    # Then: DynamoDB deletes receipts by their epoch-seconds ``ttl`` (a Number), and no other record carries one
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert WebhookReceiptRecord.ttl.attr_type == "N"


def test_the_ingest_queue_dead_letters_and_the_bucket_notifies_it() -> None:
    resources = _template()["Resources"]
    redrive = resources["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}
    queue_configs = resources["MediaBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert queue_configs[0]["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]


def test_worker_function_settings_name_real_handlers() -> None:
    from app import app

    handlers = {source.name for source in app.event_sources}
    config = _config()
    for stage in DEPLOYED_STAGES:
        assert set(config["stages"][stage]["lambda_functions"]) <= handlers
    assert {"handle_cleanup", "handle_cleanup_dead_letter", "resend_pending_cleanups"} <= handlers
    assert {"handle_job", "handle_job_dead_letter", "reap_jobs", "poll_predictions"} <= handlers


@pytest.mark.parametrize("stage", STAGES)
def test_function_roles_reach_every_resource_of_their_stage(stage: str) -> None:
    # Given: the stage's physical names and ARNs
    names = _stage_names(stage)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{names['table']}"
    bucket = f"arn:aws:s3:::{names['bucket']}"
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:"
    config = _config()
    assert config["autogen_policy"] is False

    # Then: DynamoDB on the table and its indexes (transactions, batches; the cleanup worker's queries and deletes)
    table_actions = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"]
    table_actions += ["BatchWriteItem", "BatchGetItem", "ConditionCheckItem"]
    for action in table_actions:
        assert _allows(f"dynamodb:{action}", table), action
    assert _allows("dynamodb:Query", f"{table}/index/gsi2")
    assert _allows("dynamodb:Query", f"{table}/index/gsi3")  # the DSP-sync schedule's releases due for sync
    # S3: read, write and delete under the three prefixes; list the bucket (a missing key answers 404, and the
    # cleanup worker finds what a release left)
    for prefix in ("uploads", "media", "derived"):
        for action in ("GetObject", "PutObject", "DeleteObject"):
            assert _allows(f"s3:{action}", f"{bucket}/{prefix}/alice/a1/x"), (prefix, action)
    assert _allows("s3:ListBucket", bucket)
    # SQS: consume every queue (and its dead letters), send to the DSP-sync and cleanup queues, look URLs up
    for key in [key for key in names if key not in ("table", "bucket")]:
        for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl"):
            assert _allows(f"sqs:{action}", queue + names[key]), (key, action)
    for key in ("sync", "jobs", "cleanup", "imports", "generate", "backfill"):
        assert _allows("sqs:SendMessage", queue + names[key]), key


def _gateway_responses() -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["ResponseType"]: resource["Properties"]
        for resource in _template()["Resources"].values()
        if resource.get("Type") == "AWS::ApiGateway::GatewayResponse"
    }


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "404", "not_found"),  # API Gateway's answer for an unknown path or method
        ("RESOURCE_NOT_FOUND", "404", "not_found"),
        ("REQUEST_TOO_LARGE", "413", "too_large"),
        ("UNSUPPORTED_MEDIA_TYPE", "415", "unsupported_media_type"),
        ("THROTTLED", "429", "throttled"),
        ("QUOTA_EXCEEDED", "429", "quota_exceeded"),
        ("ACCESS_DENIED", "403", "forbidden"),
        ("INTEGRATION_TIMEOUT", "504", "timeout"),
        ("INTEGRATION_FAILURE", "502", "internal_error"),
        ("DEFAULT_4XX", None, "invalid_request"),
        ("DEFAULT_5XX", None, "internal_error"),
    ],
)
def test_api_gateway_errors_have_the_one_error_shape(response_type: str, status: str | None, code: str) -> None:
    # Given: the gateway response API Gateway sends instead of calling the app
    response = _gateway_responses()[response_type]

    # Then: on Chalice's RestAPI, with the app's error body, a status, and CORS so that browser apps can read it
    assert response["RestApiId"] == {"Ref": "RestAPI"}
    assert response.get("StatusCode") == status  # DEFAULT_4XX/5XX keep API Gateway's own status
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert body == {"error": {"code": code, "message": body["error"]["message"], "details": {}}}
    assert body["error"]["message"].endswith(".") and "$" not in body["error"]["message"]  # nothing echoed back
    assert response["ResponseParameters"] == {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"}


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """stage → the CloudFormation template `chalice package --stage STAGE --merge-template` writes (sam.json)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLEEVE_", "AWS_"))}
    env["AWS_DEFAULT_REGION"] = REGION
    out = tmp_path_factory.mktemp("package")
    running = {
        stage: subprocess.Popen(
            [sys.executable, "-c", _PACKAGE, str(REPO_ROOT), stage, str(out / stage)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for stage in DEPLOYED_STAGES
    }
    for stage, process in running.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"chalice package --stage {stage} failed:\n{output}"
    return {stage: out / stage / "sam.json" for stage in running}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_package_runs_every_function_on_python_3_12_and_on_its_stage_queues(
    packages: dict[str, Path], stage: str
) -> None:
    # Given: the package of the stage
    package = json.loads(packages[stage].read_text())
    resources = package["Resources"]
    functions = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    names = _stage_names(stage)

    # Then: every function (API, workers, schedules) on python3.12, with the stage's variables
    assert {"APIHandler", "HandleIngest", "HandleCleanup", "ResendPendingCleanups"} <= set(functions)
    assert {"HandleDspSync", "HandleDspSyncDeadLetter", "EnqueueDueDspSyncs"} <= set(functions)
    assert {"HandleJob", "HandleJobDeadLetter", "ReapJobs", "PollPredictions"} <= set(functions)
    assert {"HandleImport", "HandleImportDeadLetter", "HandleGenerate", "HandleGenerateDeadLetter"} <= set(functions)
    assert {"HandleBackfill", "HandleBackfillDeadLetter"} <= set(functions)
    assert {name: p["Runtime"] for name, p in functions.items()} == dict.fromkeys(functions, RUNTIME)
    for properties in functions.values():
        variables = properties["Environment"]["Variables"]
        assert variables["SLEEVE_STAGE"] == stage
        assert variables["SLEEVE_TABLE_NAME"] == names["table"]
    # and the SQS consumers read the stage's queues, which the merged template declares
    declared = {
        r["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", stage): logical_id
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue"
    }
    consumed = {
        event["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[1]
        for properties in functions.values()
        for event in properties.get("Events", {}).values()
        if event["Type"] == "SQS"
    }
    assert consumed == {value for key, value in names.items() if key not in ("table", "bucket")}
    assert consumed <= set(declared)
    # and each consumer depends on its queue: an event source names its queue by ARN only, and Lambda refuses to map
    # a queue that does not exist yet, so without DependsOn a first deploy may fail
    for name, properties in functions.items():
        for event in properties.get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = declared[event["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[1]]
                assert queue in resources[name].get("DependsOn", []), (name, queue)
    # and the gateway responses attach to the API Chalice made
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"
    assert package["Parameters"]["Stage"]["AllowedValues"] == list(STAGES)


def test_the_merged_package_passes_cfn_lint(packages: dict[str, Path]) -> None:
    # Given: the prod package (dev differs only in names)
    # When: cfn-lint, which knows every resource type, property, runtime and reference
    lint = subprocess.run(
        [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())", str(packages["prod"])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then: no error and no warning
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _pins(name: str) -> dict[str, str]:
    """``package → version`` of a requirements file's ``name==version`` lines (extras dropped)."""
    pins = {}
    for line in (REPO_ROOT / name).read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            package, version = line.split("==")
            pins[package.split("[")[0].strip().lower()] = version.strip()
    return pins


def test_the_lambda_bundle_leaves_the_chalice_cli_out() -> None:
    # Given: what `chalice package` vendors into every function (requirements.txt) and what only developers install
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")

    # Then: chalice is a development tool (the package injects chalice/app.py, the only part the code imports at run
    # time); listed at run time it vendored pip, setuptools, PyYAML and the CLI's prompts: 91 → 74 MB unzipped
    assert "chalice" not in runtime
    assert dev["chalice"] == "1.34.0"
    assert not set(runtime) & set(dev)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_an_unfilled_cursor_secret_placeholder_stops_the_stage(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: the stage's variables as .chalice/config.json has them, placeholders included
    for name in [name for name in os.environ if name.startswith("SLEEVE_")]:
        monkeypatch.delenv(name)
    for name, value in stage_environment(REPO_ROOT, stage).items():
        monkeypatch.setenv(name, value)

    # When / Then: the settings refuse to load, naming the cursor secret
    with pytest.raises(ValueError, match="SLEEVE_CURSOR_SECRET"):
        Settings()  # type: ignore[call-arg]
