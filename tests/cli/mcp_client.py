"""The official MCP Python SDK (`mcp`, pinned in scripts/test.sh) against the real binary,
over streamable HTTP (`ragtune serve`'s /mcp) and stdio (`ragtune mcp`):
- the tools are `search` and `explain`, with the input and output schemas of the OpenAPI
  document's SearchRequest/SearchResponse and ExplainRequest/ExplainResponse;
- `search` returns exactly what `POST /search` returns, and `explain` what `POST /explain`
  returns, for the first questions of the quickstart;
- a bad argument is a tool error, not a crash.
Prints a JSON summary.

usage: mcp_client.py URL QUESTIONS_JSONL RAGTUNE_BIN RUN CACHE
"""

import asyncio
import json
import os
import sys
import urllib.request

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

N = 10


def post(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def inline(schema, components):
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return inline(components[ref.rsplit("/", 1)[1]], components)
        return {k: inline(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [inline(v, components) for v in schema]
    return schema


async def check(session, base, questions):
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    if sorted(tools) != ["explain", "search"]:
        sys.exit(f"tools: {sorted(tools)}")
    with urllib.request.urlopen(base + "/openapi.json") as r:
        components = json.load(r)["components"]["schemas"]
    for name, (inp, out) in {"search": ("SearchRequest", "SearchResponse"),
                             "explain": ("ExplainRequest", "ExplainResponse")}.items():
        if tools[name].input_schema != inline(components[inp], components):
            sys.exit(f"{name}: input schema differs from the OpenAPI {inp}")
        if tools[name].output_schema != inline(components[out], components):
            sys.exit(f"{name}: output schema differs from the OpenAPI {out}")
    for q in questions:
        got = await session.call_tool("search", {"query": q["question"], "k": 5})
        want = post(base + "/search", {"query": q["question"], "k": 5})
        if got.is_error or got.structured_content != want:
            sys.exit(f"search {q['question']!r}: {got.structured_content} != {want}")
        if json.loads(got.content[0].text) != want:
            sys.exit("search: the text content is not the structured content")
        got = await session.call_tool("explain", {"question": q["id"]})
        want = post(base + "/explain", {"question": q["id"]})
        if got.is_error or got.structured_content != want:
            sys.exit(f"explain {q['id']}: {got.structured_content} != {want}")
    bad = await session.call_tool("search", {"query": "", "k": 5})
    if not bad.is_error or "must not be empty" not in bad.content[0].text:
        sys.exit(f"an empty query: {bad}")
    return len(questions)


async def over_http(base, questions):
    async with streamable_http_client(base + "/mcp") as (read, write, *_):
        async with ClientSession(read, write) as session:
            return await check(session, base, questions)


async def over_stdio(base, questions, binary, run, cache):
    params = StdioServerParameters(
        command=binary,
        args=["mcp", run, "--cache-dir", cache],
        env={**os.environ},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            return await check(session, base, questions)


def main():
    base, questions, binary, run, cache = sys.argv[1:6]
    base = base.rstrip("/")
    qs = [json.loads(l) for l in open(questions)][:N]
    http = asyncio.run(over_http(base, qs))
    stdio = asyncio.run(over_stdio(base, qs, binary, run, cache))
    print(json.dumps({"http_questions": http, "stdio_questions": stdio}))


if __name__ == "__main__":
    main()
