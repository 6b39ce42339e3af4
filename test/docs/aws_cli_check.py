"""Runs the runbooks' `aws ...` command lines through the real AWS CLI, offline.

Read from stdin: {"commands": [{"id", "line"}], "responses": {"<service>.<Operation>": {...}},
"sent": ["<service>.<Operation>", ...]}. `line` is the command as a shell would see it after
variable expansion, starting with `aws`; it is split as the shell splits it (shlex).
Each command goes through the AWS CLI's own parser and botocore's parameter validation, exactly
as an operator's shell would run it (the AWS CLI v1 of requirements-dev.txt, which shares its
command lines and JMESPath with v2). The request is then caught before it leaves: where
`responses` holds an answer for its operation, the CLI gets that answer (as AWS would send it) and
applies `--query` and `--output` to it; an operation listed in `sent` goes to AWS_ENDPOINT_URL
(moto_server, which the test has given the state); any other stops there. Besides, every
`--query` is checked against the operation's output shape in the service model (a field the API
does not return evaluates to None silently, so only the model can tell a typo).

Writes to stdout: one JSON result per command, in order: {"id", "exitCode", "stdout", "stderr",
"operation", "params", "queryProblems"}. Used by test/docs/runbook-aws.test.ts.
"""

import contextlib
import io
import json
import shlex
import sys

import jmespath
from awscli.clidriver import create_clidriver
from botocore.awsrequest import AWSResponse


class NotSent(Exception):
    """The request was built and signed: the command line is valid. Nothing is sent."""


class _Raw:
    def __init__(self, body):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


def shape_name(shape):
    return getattr(shape, "name", "?")


class ListOf:
    """What a JMESPath projection yields: a list of `of`."""

    def __init__(self, of):
        self.of = of


ANY = object()


def elements(t, problems, where):
    if t is ANY:
        return ANY
    if isinstance(t, ListOf):
        return t.of
    if getattr(t, "type_name", None) == "list":
        return t.member
    problems.append(f"{where}: {shape_name(t)} is not a list")
    return ANY


def walk(node, cur, problems):
    """The type `node` yields from a value of type `cur`; problems found on the way are appended."""
    kind = node["type"]
    kids = node.get("children", [])
    if kind == "field":
        name = node["value"]
        if cur is ANY:
            return ANY
        if isinstance(cur, ListOf) or getattr(cur, "type_name", None) == "list":
            problems.append(f"field {name!r} asked of a list (a projection such as [] or [*] is missing)")
            return ANY
        type_name = getattr(cur, "type_name", None)
        if type_name == "structure":
            if name not in cur.members:
                problems.append(
                    f"{shape_name(cur)} has no field {name!r} (it has: {', '.join(cur.members)})"
                )
                return ANY
            return cur.members[name]
        if type_name == "map":
            return cur.value
        problems.append(f"field {name!r} asked of {shape_name(cur)}, a {type_name}")
        return ANY
    if kind in ("subexpression", "pipe"):
        left = walk(kids[0], cur, problems)
        return walk(kids[1], left, problems)
    if kind == "index_expression":
        left = walk(kids[0], cur, problems)
        return walk(kids[1], left, problems)
    if kind == "index":
        return elements(cur, problems, f"[{node['value']}]")
    if kind == "slice":
        elements(cur, problems, "slice")
        return cur
    if kind == "projection":
        left = walk(kids[0], cur, problems)
        return ListOf(walk(kids[1], elements(left, problems, "projection"), problems))
    if kind == "value_projection":
        left = walk(kids[0], cur, problems)
        value = left.value if getattr(left, "type_name", None) == "map" else ANY
        return ListOf(walk(kids[1], value, problems))
    if kind == "filter_projection":
        left = walk(kids[0], cur, problems)
        element = elements(left, problems, "filter")
        walk(kids[2], element, problems)
        return ListOf(walk(kids[1], element, problems))
    if kind == "flatten":
        inner = walk(kids[0], cur, problems)
        element = elements(inner, problems, "flatten")
        if element is ANY:
            return ListOf(ANY)
        if isinstance(element, ListOf) or getattr(element, "type_name", None) == "list":
            return ListOf(elements(element, problems, "flatten"))
        return ListOf(element)
    if kind in ("identity", "current"):
        return cur
    if kind in ("comparator", "and_expression", "or_expression", "not_expression"):
        for kid in kids:
            walk(kid, cur, problems)
        return ANY
    if kind == "multi_select_dict":
        for pair in kids:
            walk(pair["children"][0], cur, problems)
        return ANY
    if kind == "multi_select_list":
        for kid in kids:
            walk(kid, cur, problems)
        return ANY
    if kind == "function_expression":
        first = None
        for kid in kids:
            if kid["type"] == "expref":
                walk(kid["children"][0], elements(first, problems, "function"), problems)
            else:
                t = walk(kid, cur, problems)
                first = t if first is None else first
        return first if node["value"] in ("sort_by", "reverse") else ANY
    if kind in ("literal", "raw_string"):
        return ANY
    problems.append(f"JMESPath node {kind!r} is not checked")
    return ANY


def main():
    request = json.load(sys.stdin)
    responses = request.get("responses", {})
    sent = set(request.get("sent", []))
    driver = create_clidriver()
    session = driver.session
    seen = {}

    def on_params(params, model, **_kwargs):
        seen["operation"] = f"{model.service_model.service_name}.{model.name}"
        seen["model"] = model
        seen["params"] = params

    def on_send(request, **_kwargs):
        if seen.get("operation") in sent:
            return None
        answer = responses.get(seen.get("operation"))
        if answer is None:
            raise NotSent(f"not sent: {seen.get('operation')}")
        body = json.dumps(answer).encode()
        return AWSResponse(
            request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body)
        )

    session.register("provide-client-params", on_params)
    session.register("before-send", on_send)
    results = []
    for command in request["commands"]:
        seen.clear()
        out, err = io.StringIO(), io.StringIO()
        try:
            argv = shlex.split(command["line"])
        except ValueError as e:
            argv = []
            err.write(f"the shell could not split it: {e}")
        code = 254
        if argv[:1] == ["aws"]:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = driver.main(argv[1:])
                except SystemExit as e:  # argparse's usage errors
                    code = e.code if isinstance(e.code, int) else 252
        elif argv:
            err.write(f"not an aws command: {command['line']}")
        problems = []
        if "--query" in argv and "model" in seen:
            query = argv[argv.index("--query") + 1]
            try:
                parsed = jmespath.compile(query).parsed
                walk(parsed, seen["model"].output_shape, problems)
            except jmespath.exceptions.JMESPathError as e:
                problems.append(f"not a JMESPath expression: {e}")
        results.append(
            {
                "id": command["id"],
                "exitCode": code,
                "stdout": out.getvalue(),
                "stderr": err.getvalue(),
                "operation": seen.get("operation"),
                "params": seen.get("params"),
                "queryProblems": problems,
            }
        )
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
