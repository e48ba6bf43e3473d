"""Drives a running gateway with the official `openai` and `ollama` Python packages and prints, as one JSON
object, what those clients parsed. GatewayTests/OfficialClientsTests.swift starts the gateway and checks it.

Usage: official_clients.py BASE_URL   (e.g. http://127.0.0.1:8080)
"""
import json
import sys

import ollama
import openai
import pydantic
import typing

base = sys.argv[1]
question = [{"role": "user", "content": "What is the capital of France?"}]
out = {}

client = openai.OpenAI(base_url=base + "/v1", api_key="not-needed", max_retries=0)
reply = client.chat.completions.create(model="smollm2", messages=question, max_tokens=16, temperature=0)
out["openai_chat"] = {
    "content": reply.choices[0].message.content,
    "finish_reason": reply.choices[0].finish_reason,
    "prompt_tokens": reply.usage.prompt_tokens,
    "completion_tokens": reply.usage.completion_tokens,
    "model": reply.model,
}
parts, usage = [], None
for chunk in client.chat.completions.create(
    model="smollm2", messages=question, max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True}
):
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage.completion_tokens
out["openai_stream"] = {"content": "".join(parts), "completion_tokens": usage}
out["openai_models"] = sorted(model.id for model in client.models.list())
embeddings = client.embeddings.create(model="smollm2", input=["hello", "world"])
out["openai_embeddings"] = [len(item.embedding) for item in embeddings.data]
completion = client.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=8, temperature=0)
out["openai_completion"] = completion.choices[0].text
try:
    client.chat.completions.create(model="no-such-model", messages=question, max_tokens=4)
except openai.NotFoundError as error:
    out["openai_not_found"] = error.status_code

# Structured output as client libraries ask for it: a Pydantic model, parsed back by the client.
class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=20)
    country: str = pydantic.Field(max_length=20)
    population: int = pydantic.Field(ge=0)
    coastal: bool
    nickname: typing.Optional[str] = pydantic.Field(default=None, max_length=16)


city_question = [{"role": "user", "content": "Describe Paris as JSON."}]
parsed = client.chat.completions.parse(
    model="smollm2", messages=city_question, response_format=City, max_tokens=120, temperature=0)
out["openai_parse"] = parsed.choices[0].message.parsed.model_dump() if parsed.choices[0].message.parsed else None

ollama_client = ollama.Client(host=base)
formatted = ollama_client.chat(
    model="smollm2", messages=city_question, format=City.model_json_schema(),
    options={"num_predict": 120, "temperature": 0})
out["ollama_format"] = City.model_validate_json(formatted.message.content).model_dump()
chat = ollama_client.chat(model="smollm2", messages=question, options={"num_predict": 16, "temperature": 0})
out["ollama_chat"] = {"content": chat.message.content, "done_reason": chat.done_reason, "eval_count": chat.eval_count}
streamed = "".join(part.message.content for part in ollama_client.chat(
    model="smollm2", messages=question, options={"num_predict": 16, "temperature": 0}, stream=True))
out["ollama_stream"] = streamed
out["ollama_tags"] = sorted(model.model for model in ollama_client.list().models)
show = ollama_client.show("smollm2")
out["ollama_show"] = {"capabilities": list(show.capabilities or []), "family": show.details.family}
generated = ollama_client.generate(model="smollm2", prompt="The capital of France is", options={"num_predict": 8, "temperature": 0})
out["ollama_generate"] = {"response": generated.response, "done": generated.done}
out["ollama_embed"] = [len(vector) for vector in ollama_client.embed(model="smollm2", input=["a", "b"]).embeddings]
try:
    ollama_client.chat(model="no-such-model", messages=question)
except ollama.ResponseError as error:
    out["ollama_not_found"] = error.status_code

print(json.dumps(out))
