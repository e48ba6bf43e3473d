"""The official `openai` and `ollama` Python clients sending images, as their users do: an OpenAI
`image_url` part with a base64 data URL, and Ollama's `images=[path]` (the client reads and encodes the file).

Usage: vision_clients.py BASE_URL MODEL IMAGE_PATH. Prints one JSON object with what each client parsed.
"""
import base64
import json
import sys

import ollama
import openai

base, model, image = sys.argv[1:4]
result = {}

client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused")
data_url = "data:image/png;base64," + base64.b64encode(open(image, "rb").read()).decode()
chat = client.chat.completions.create(
    model=model,
    messages=[
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": data_url}},
            ],
        }
    ],
    temperature=0,
    max_tokens=8,
)
result["openai"] = {
    "content": chat.choices[0].message.content,
    "prompt_tokens": chat.usage.prompt_tokens,
    "image_tokens": chat.usage.prompt_tokens_details.image_tokens,
}
try:
    client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
    )
    result["openai_bad_image"] = 200
except openai.BadRequestError as error:
    result["openai_bad_image"] = error.status_code

ollama_client = ollama.Client(host=base)
answer = ollama_client.chat(
    model=model,
    messages=[{"role": "user", "content": "What is in this picture?", "images": [image]}],
    options={"temperature": 0, "num_predict": 8},
)
result["ollama_chat"] = {"content": answer.message.content, "prompt_eval_count": answer.prompt_eval_count}
generated = ollama_client.generate(
    model=model, prompt="What is in this picture?", images=[image], options={"temperature": 0, "num_predict": 8}
)
result["ollama_generate"] = {"response": generated.response, "done": generated.done}
show = ollama_client.show(model)
result["ollama_capabilities"] = list(show.capabilities or [])
print(json.dumps(result))
