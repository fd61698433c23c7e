"""Create the resources declared in infra/template.json on moto with plain boto3 calls (idempotent).

The template is the same file ``chalice package --merge-template`` merges for AWS, so local and AWS cannot drift. moto's
CloudFormation does not apply S3 notifications or CORS, hence boto3 calls per resource type instead of a stack.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_REGION = "us-east-1"


class ProvisionError(Exception):
    """The template cannot be applied: an unknown intrinsic, a reference to a missing or skipped resource, a cycle."""


class ProvisionResult(TypedDict):
    """What :func:`provision` created, by physical name.

    ``resources``: logical id → the value ``Ref`` gives (table name, bucket name, queue URL…), provisioned ones only.
    ``table_name`` / ``bucket_name``: the template's single table / bucket (``None`` unless there is exactly one).
    ``queue_urls``: queue name → queue URL. ``queue_arns``: queue name → ARN.
    ``outputs``: the template's ``Outputs`` that could be resolved.
    ``skipped``: logical ids of resources whose type is not applied locally (e.g. ``AWS::CloudWatch::Alarm``).
    """

    resources: dict[str, str]
    table_name: str | None
    bucket_name: str | None
    queue_urls: dict[str, str]
    queue_arns: dict[str, str]
    outputs: dict[str, Any]
    skipped: list[str]


class _Session(Protocol):
    def client(self, service_name: str, **kwargs: Any) -> Any: ...


@dataclass
class _Context:
    """The state shared while walking the template: clients, pseudo parameters and what each resource resolved to."""

    clients: Callable[[str], Any]
    account_id: str
    region: str
    stack_name: str
    parameters: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": None,
        }.get(name, _MISSING)

    def ref(self, name: str) -> Any:
        pseudo = self.pseudo(name)
        if pseudo is not _MISSING:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise ProvisionError(f"Ref to {name!r}, which is {self._why_missing(name)}")

    def get_att(self, name: str, attribute: str) -> Any:
        if name not in self.attributes:
            raise ProvisionError(f"Fn::GetAtt on {name!r}, which is {self._why_missing(name)}")
        try:
            return self.attributes[name][attribute]
        except KeyError:
            raise ProvisionError(f"Fn::GetAtt {name}.{attribute}: attribute not supported locally") from None

    def _why_missing(self, name: str) -> str:
        return "skipped locally" if name in self.skipped else "not provisioned (yet) or not declared"


_MISSING: Any = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def resolve(value: Any, ctx: _Context) -> Any:
    """Resolve the intrinsics in ``value`` (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select) recursively.

    Raises :class:`ProvisionError` for any other ``Fn::*`` and for references that cannot be resolved.
    """
    if isinstance(value, list):
        return [resolve(item, ctx) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return ctx.ref(arg)
        if key == "Fn::GetAtt":
            name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return ctx.get_att(name, resolve(attribute, ctx))
        if key == "Fn::Sub":
            return _sub(arg, ctx)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in resolve(items, ctx))
        if key == "Fn::Select":
            index, items = resolve(arg, ctx)
            return items[int(index)]
        if key.startswith("Fn::") or key == "Condition":
            raise ProvisionError(f"intrinsic {key} is not supported by the local provisioning")
    return {key: resolve(item, ctx) for key, item in value.items()}


def _sub(arg: Any, ctx: _Context) -> str:
    template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name:
            return str(ctx.get_att(*name.split(".", 1)))
        return str(ctx.ref(name))

    # "${!Literal}" is CloudFormation's escape for a literal "${Literal}".
    return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")


def _dependencies(value: Any) -> set[str]:
    """Logical ids that ``value`` references through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _dependencies(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text)}
                if not isinstance(arg, str):
                    found |= _dependencies(arg[1])
            else:
                found |= _dependencies(arg)
    return {name for name in found if not name.startswith("AWS::")}


def _creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids ordered so that every resource comes after what it references or ``DependsOn`` (Kahn's sort)."""
    edges: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        depends = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        edges[name] = (depends | _dependencies(resource.get("Properties", {}))) & set(resources)
    order: list[str] = []
    ready = sorted(name for name, deps in edges.items() if not deps)
    while ready:
        name = ready.pop(0)
        order.append(name)
        for other, deps in edges.items():
            if name in deps:
                deps.discard(name)
                if not deps and other not in order and other not in ready:
                    ready.append(other)
        ready.sort()
    if len(order) != len(resources):
        raise ProvisionError(f"dependency cycle between {sorted(set(resources) - set(order))}")
    return order


# --- DynamoDB -------------------------------------------------------------------------------------------------------

_TABLE_CREATE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TableClass",
    "DeletionProtectionEnabled",
)


def _apply_table(name: str, props: dict[str, Any], ctx: _Context) -> None:
    dynamodb = ctx.clients("dynamodb")
    table_name = props.get("TableName") or f"{ctx.stack_name}-{name}"
    request = {key: props[key] for key in _TABLE_CREATE_KEYS if key in props}
    if "StreamSpecification" in request:
        request["StreamSpecification"] = {"StreamEnabled": True, **request["StreamSpecification"]}
    try:
        description = dynamodb.describe_table(TableName=table_name)["Table"]
        _add_missing_indexes(dynamodb, table_name, description, props)
        log.info("table %s exists", table_name)
    except dynamodb.exceptions.ResourceNotFoundException:
        description = dynamodb.create_table(TableName=table_name, **request)["TableDescription"]
        log.info("table %s created (%d GSI)", table_name, len(props.get("GlobalSecondaryIndexes", [])))
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        dynamodb.update_continuous_backups(TableName=table_name, PointInTimeRecoverySpecification=pitr)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        current = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    ctx.refs[name] = table_name
    ctx.attributes[name] = {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn")}


def _add_missing_indexes(dynamodb: Any, table_name: str, description: dict[str, Any], props: dict[str, Any]) -> None:
    # A table that outlived a template change (re-run against the same moto) gets the GSIs added since.
    existing = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
    for index in props.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in existing:
            continue
        create = {
            key: index[key] for key in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput") if key in index
        }
        dynamodb.update_table(
            TableName=table_name,
            AttributeDefinitions=props["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": create}],
        )
        log.info("table %s: index %s added", table_name, index["IndexName"])


# --- SQS ------------------------------------------------------------------------------------------------------------


def _queue_attributes(props: dict[str, Any]) -> dict[str, str]:
    """CloudFormation queue properties → SetQueueAttributes strings (RedrivePolicy and friends as JSON)."""
    attributes: dict[str, str] = {}
    for key, value in props.items():
        if key in ("QueueName", "Tags"):
            continue
        if isinstance(value, (dict, list)):
            attributes[key] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[key] = "true" if value else "false"
        else:
            attributes[key] = str(value)
    return attributes


def _apply_queue(name: str, props: dict[str, Any], ctx: _Context) -> None:
    sqs = ctx.clients("sqs")
    queue_name = props.get("QueueName") or f"{ctx.stack_name}-{name}" + (".fifo" if props.get("FifoQueue") else "")
    attributes = _queue_attributes(props)
    try:
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        # FifoQueue cannot be changed after creation; everything else converges to the template.
        settable = {key: value for key, value in attributes.items() if key != "FifoQueue"}
        if settable:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=settable)
        log.info("queue %s exists", queue_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        log.info("queue %s created", queue_name)
    arn = f"arn:aws:sqs:{ctx.region}:{ctx.account_id}:{queue_name}"
    ctx.refs[name] = url
    ctx.attributes[name] = {"Arn": arn, "QueueName": queue_name, "QueueUrl": url}


def _apply_queue_policy(name: str, props: dict[str, Any], ctx: _Context) -> None:
    sqs = ctx.clients("sqs")
    policy = json.dumps(props["PolicyDocument"])
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    ctx.refs[name] = name
    ctx.attributes[name] = {}
    log.info("queue policy %s applied to %d queue(s)", name, len(props["Queues"]))


# --- S3 -------------------------------------------------------------------------------------------------------------


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation ``LifecycleConfiguration.Rules`` item → the PutBucketLifecycleConfiguration shape."""
    out: dict[str, Any] = {"Status": rule["Status"]}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    prefix = rule.get("Prefix")
    tag_filters = rule.get("TagFilters")
    if tag_filters:
        tags = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in tag_filters]
        out["Filter"] = {"And": {"Prefix": prefix or "", "Tags": tags}} if prefix else {"Tag": tags[0]}
    else:
        out["Filter"] = {"Prefix": prefix or ""}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": rule["ExpirationInDays"]}
    elif "ExpirationDate" in rule:
        out["Expiration"] = {"Date": rule["ExpirationDate"]}
    elif "ExpiredObjectDeleteMarker" in rule:
        out["Expiration"] = {"ExpiredObjectDeleteMarker": rule["ExpiredObjectDeleteMarker"]}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    if "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
    return out


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation ``CorsRules`` item → the PutBucketCors shape (ExposedHeaders/MaxAge/Id are renamed)."""
    renames = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
    return {renames.get(key, key): value for key, value in rule.items()}


def _key_filter(filter_: dict[str, Any] | None) -> dict[str, Any] | None:
    if not filter_:
        return None
    rules = filter_.get("S3Key", {}).get("Rules", [])
    return {"Key": {"FilterRules": [{"Name": rule["Name"], "Value": rule["Value"]} for rule in rules]}}


def _notification_configuration(props: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation ``NotificationConfiguration`` → the PutBucketNotificationConfiguration shape."""
    config: dict[str, Any] = {}
    kinds = (
        ("QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "Topic", "TopicArn"),
        ("LambdaConfigurations", "Function", "LambdaFunctionArn"),
    )
    for kind, cfn_target, api_target in kinds:
        items = []
        for item in props.get(kind, []):
            converted: dict[str, Any] = {api_target: item[cfn_target], "Events": [item["Event"]]}
            key_filter = _key_filter(item.get("Filter"))
            if key_filter:
                converted["Filter"] = key_filter
            items.append(converted)
        if items:
            config[kind] = items
    if props.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        config["EventBridgeConfiguration"] = {}
    return config


def _notification_signature(config: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...], str]]:
    """A comparable form of a notification configuration that ignores the Ids S3 generates."""
    signature = []
    for kind in ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations", "LambdaConfigurations"):
        for item in config.get(kind, []):
            target = item.get("QueueArn") or item.get("TopicArn") or item.get("LambdaFunctionArn") or ""
            rules = item.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            rule_text = ",".join(sorted(f"{rule['Name'].lower()}={rule['Value']}" for rule in rules))
            signature.append((kind.replace("Function", ""), target, tuple(sorted(item["Events"])), rule_text))
    return sorted(signature)


def _apply_bucket(name: str, props: dict[str, Any], ctx: _Context) -> None:
    s3 = ctx.clients("s3")
    bucket = props.get("BucketName") or f"{ctx.stack_name}-{name}".lower()
    try:
        s3.head_bucket(Bucket=bucket)
        log.info("bucket %s exists", bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        extra = {} if ctx.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": ctx.region}}
        s3.create_bucket(Bucket=bucket, **extra)
        log.info("bucket %s created", bucket)

    applied = []
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
        applied.append("public access block")
    if "CorsConfiguration" in props:
        rules = [_cors_rule(rule) for rule in props["CorsConfiguration"]["CorsRules"]]
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        applied.append("CORS")
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        applied.append("lifecycle")
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"])
        applied.append("versioning")
    if "BucketEncryption" in props:
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        applied.append("encryption")
    if "NotificationConfiguration" in props:
        wanted = _notification_configuration(props["NotificationConfiguration"])
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
        # S3 (and moto) sends an s3:TestEvent to every queue on each put: only put when something changed.
        if _notification_signature(current) != _notification_signature(wanted) or (
            ("EventBridgeConfiguration" in current) != ("EventBridgeConfiguration" in wanted)
        ):
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
        applied.append("notifications")
    ignored = sorted(set(props) - _BUCKET_PROPERTIES)
    if ignored:
        log.info("bucket %s: properties not applied locally: %s", bucket, ", ".join(ignored))
    log.info("bucket %s: %s", bucket, ", ".join(applied) or "no configuration")
    ctx.refs[name] = bucket
    ctx.attributes[name] = {
        "Arn": f"arn:aws:s3:::{bucket}",
        "DomainName": f"{bucket}.s3.amazonaws.com",
        "RegionalDomainName": f"{bucket}.s3.{ctx.region}.amazonaws.com",
    }


_BUCKET_PROPERTIES = {
    "BucketName",
    "PublicAccessBlockConfiguration",
    "CorsConfiguration",
    "LifecycleConfiguration",
    "VersioningConfiguration",
    "BucketEncryption",
    "NotificationConfiguration",
}

_APPLIERS: dict[str, Callable[[str, dict[str, Any], _Context], None]] = {
    "AWS::DynamoDB::Table": _apply_table,
    "AWS::SQS::Queue": _apply_queue,
    "AWS::SQS::QueuePolicy": _apply_queue_policy,
    "AWS::S3::Bucket": _apply_bucket,
}


def load_template(template_path: str | Path) -> dict[str, Any]:
    """Read a CloudFormation JSON template. Raises ``OSError`` / ``json.JSONDecodeError``."""
    with open(template_path, encoding="utf-8") as handle:
        template: dict[str, Any] = json.load(handle)
    return template


def _parameter_values(declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The value of every declared parameter: the given one, else its ``Default``; checked against ``AllowedValues``.

    Raises :class:`ProvisionError`, as CloudFormation refuses the stack, for an undeclared parameter, a parameter with
    neither a value nor a default, or a value outside ``AllowedValues``.
    """
    undeclared = sorted(set(given) - set(declared))
    if undeclared:
        raise ProvisionError(f"parameters {undeclared} are not declared by the template")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            raise ProvisionError(f"parameter {name} has no value and no default: pass parameters={{{name!r}: …}}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in allowed:
            raise ProvisionError(f"parameter {name}={value!r} is not one of {allowed}")
        values[name] = value
    return values


def provision(
    template_path: str | Path,
    session_or_clients: _Session | Mapping[str, Any],
    *,
    account_id: str = LOCAL_ACCOUNT_ID,
    region: str = LOCAL_REGION,
    endpoint_url: str | None = None,
    stack_name: str = "sleeve",
    parameters: Mapping[str, Any] | None = None,
) -> ProvisionResult:
    """Create (or converge) every supported resource of a CloudFormation template with boto3; idempotent.

    ``session_or_clients`` is a boto3 ``Session`` (clients are made with ``region`` and ``endpoint_url``, e.g. a moto
    server URL; ``None`` suits ``moto.mock_aws``) or a mapping ``{"dynamodb": client, "s3": client, "sqs": client}``.
    ``account_id`` and ``region`` feed ``${AWS::AccountId}`` / ``${AWS::Region}`` and the ARNs built locally; they must
    match the emulator's (moto: 123456789012) for S3 → SQS notifications to be delivered. ``parameters`` give the
    template's ``Parameters`` (Sleeve's: ``{"Stage": "local"}``); a declared parameter without a default must be given.

    Supported types: AWS::DynamoDB::Table, AWS::SQS::Queue, AWS::SQS::QueuePolicy, AWS::S3::Bucket; other types are
    skipped with a log line, and resources without a ``Type`` (fragments of Chalice's resources) are ignored. Running
    it twice changes nothing (no second s3:TestEvent either).

    Raises :class:`ProvisionError` for unsupported intrinsics, references to missing/skipped resources and missing,
    undeclared or disallowed parameters, and
    ``botocore.exceptions.ClientError`` when the emulator refuses a call.
    """
    template = load_template(template_path)
    if isinstance(session_or_clients, Mapping):
        given = session_or_clients

        def clients(service: str) -> Any:
            return given[service]

    else:
        session = session_or_clients
        cache: dict[str, Any] = {}

        def clients(service: str) -> Any:
            if service not in cache:
                cache[service] = session.client(service, region_name=region, endpoint_url=endpoint_url)
            return cache[service]

    ctx = _Context(
        clients=clients,
        account_id=account_id,
        region=region,
        stack_name=stack_name,
        parameters=_parameter_values(template.get("Parameters", {}), parameters or {}),
    )
    resources: dict[str, Any] = template.get("Resources", {})
    for name in _creation_order(resources):
        resource = resources[name]
        if "Type" not in resource:
            # A fragment that `chalice package --merge-template` merges into one of Chalice's resources (e.g. a
            # function's DependsOn): nothing of its own to create.
            log.info("fragment %s: merged into Chalice's %s by chalice package, nothing to provision", name, name)
            continue
        applier = _APPLIERS.get(resource["Type"])
        if applier is None:
            ctx.skipped.add(name)
            log.info("skipped %s (%s): not provisioned locally", name, resource["Type"])
            continue
        applier(name, resolve(resource.get("Properties", {}), ctx), ctx)

    outputs: dict[str, Any] = {}
    for key, output in template.get("Outputs", {}).items():
        try:
            outputs[key] = resolve(output["Value"], ctx)
        except ProvisionError as exc:
            log.info("output %s not resolved locally: %s", key, exc)

    by_type: dict[str, list[str]] = {}
    for name in ctx.refs:
        by_type.setdefault(resources[name]["Type"], []).append(name)
    tables = [ctx.refs[name] for name in by_type.get("AWS::DynamoDB::Table", [])]
    buckets = [ctx.refs[name] for name in by_type.get("AWS::S3::Bucket", [])]
    queues = [ctx.attributes[name] for name in by_type.get("AWS::SQS::Queue", [])]
    return ProvisionResult(
        resources={name: str(value) for name, value in ctx.refs.items()},
        table_name=tables[0] if len(tables) == 1 else None,
        bucket_name=buckets[0] if len(buckets) == 1 else None,
        queue_urls={queue["QueueName"]: queue["QueueUrl"] for queue in queues},
        queue_arns={queue["QueueName"]: queue["Arn"] for queue in queues},
        outputs=outputs,
        skipped=sorted(ctx.skipped),
    )
