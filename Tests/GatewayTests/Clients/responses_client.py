"""Drives a running gateway's `POST /v1/responses` with the official `openai` Python package and prints, as one
JSON object, what the client parsed. GatewayTests/ResponsesAPITests.swift starts the gateway and checks it.

Usage: responses_client.py BASE_URL   (e.g. http://127.0.0.1:8080)
"""
import json
import sys

import openai
import pydantic

base = sys.argv[1]
client = openai.OpenAI(base_url=base + "/v1", api_key="not-needed", max_retries=0)
question = "What is the capital of France?"
out = {}

chat = client.chat.completions.create(
    model="smollm2", messages=[{"role": "user", "content": question}], max_tokens=16, temperature=0)
out["chat_content"] = chat.choices[0].message.content

whole = client.responses.create(model="smollm2", input=question, max_output_tokens=16, temperature=0)
out["whole"] = {
    "text": whole.output_text, "status": whole.status, "id": whole.id, "object": whole.object,
    "input_tokens": whole.usage.input_tokens, "output_tokens": whole.usage.output_tokens,
    "incomplete": whole.incomplete_details.reason if whole.incomplete_details else None,
    "item_types": [item.type for item in whole.output],
}

# The raw event stream, and the SDK's accumulating helper, which checks that events fit together.
types, deltas, numbers = [], [], []
for event in client.responses.create(model="smollm2", input=question, max_output_tokens=16, temperature=0, stream=True):
    types.append(event.type)
    numbers.append(event.sequence_number)
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
out["stream"] = {"types": types, "text": "".join(deltas), "sequence": numbers}
with client.responses.stream(
        model="smollm2", input=[{"role": "user", "content": [{"type": "input_text", "text": question}]}],
        instructions="Answer in one short sentence.", max_output_tokens=16, temperature=0) as stream:
    helper_text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
    final = stream.get_final_response()
out["helper"] = {"text": helper_text, "final_text": final.output_text, "status": final.status}


class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=20)
    population: int = pydantic.Field(ge=0)
    coastal: bool


parsed = client.responses.parse(
    model="smollm2", input="Describe Paris as JSON.", text_format=City, max_output_tokens=120, temperature=0)
out["parsed"] = parsed.output_parsed.model_dump() if parsed.output_parsed else None

weather = {
    "type": "function", "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30}},
                   "required": ["city"], "additionalProperties": False},
}
called = client.responses.create(
    model="smollm2", input="What is the weather in Paris?", tools=[weather], tool_choice="required",
    max_output_tokens=80, temperature=0)
calls = [item for item in called.output if item.type == "function_call"]
out["tool_call"] = [{"name": c.name, "arguments": json.loads(c.arguments), "call_id": c.call_id} for c in calls]

# The next turn: the call and its output go back as input items.
follow_up = client.responses.create(
    model="smollm2", tools=[weather], max_output_tokens=24, temperature=0,
    input=[{"role": "user", "content": "What is the weather in Paris?"}]
    + [{"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments} for c in calls]
    + [{"type": "function_call_output", "call_id": c.call_id, "output": "Sunny, 21 C"} for c in calls])
out["follow_up"] = {"status": follow_up.status, "text": follow_up.output_text}

logprobs = client.responses.create(
    model="smollm2", input=question, max_output_tokens=8, temperature=0, top_logprobs=2,
    include=["message.output_text.logprobs"])
content = logprobs.output[0].content[0]
out["logprobs"] = {"text": content.text, "tokens": [entry.token for entry in content.logprobs],
                   "top": [len(entry.top_logprobs) for entry in content.logprobs]}

try:
    client.responses.create(model="smollm2", input=question, previous_response_id="resp_earlier")
except openai.BadRequestError as error:
    out["stateful_refused"] = {"status": error.status_code, "param": error.body.get("param") if error.body else None}

print(json.dumps(out))
