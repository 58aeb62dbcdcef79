// Drives an OpenAI-compatible server with the official `openai` npm client and prints one JSON object with what
// came back, for tests/test_server.cpp to judge.
//   node openai_client.mjs BASE_URL MODEL IMAGE_FILE AUDIO_FILE [API_KEY]
import OpenAI from "openai";
import {readFileSync} from "node:fs";

const [baseURL, model, imageFile, audioFile, apiKey] = process.argv.slice(2);
const client = new OpenAI({baseURL: baseURL + "/v1", apiKey: apiKey ?? "none", maxRetries: 0, timeout: 120000});
const out = {};
const user = (content) => [{role: "user", content}];

out.models = (await client.models.list()).data.map((m) => m.id);
out.chat = await client.chat.completions.create({model, messages: user("Say hello"), max_completion_tokens: 8, temperature: 0});

let text = "", chunks = 0, finish = null, usage = null;
const stream = await client.chat.completions.create({
  model, messages: user("Say hello"), max_completion_tokens: 8, temperature: 0, stream: true,
  stream_options: {include_usage: true}});
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.delta?.content ?? "";
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.stream = {text, chunks, finish, usage};

out.logprobs = await client.chat.completions.create({
  model, messages: user("Count"), max_completion_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3});

const image = readFileSync(imageFile).toString("base64");
const audio = readFileSync(audioFile).toString("base64");
out.media = await client.chat.completions.create({
  model, max_completion_tokens: 4, temperature: 0,
  messages: user([
    {type: "image_url", image_url: {url: `data:image/png;base64,${image}`}},
    {type: "input_audio", input_audio: {data: audio, format: "wav"}},
    {type: "text", text: "What is in these?"}])});

out.errors = {};
for (const [name, request] of Object.entries({
  unknown_model: {model: "no-such-model", messages: user("x")},
  n_above_one: {model, messages: user("x"), n: 2},
  logit_bias: {model, messages: user("x"), logit_bias: {"5": 10}},
  bad_image: {model, messages: user([{type: "image_url", image_url: {url: "data:image/png;base64,AAAA"}}])},
  top_logprobs_too_many: {model, messages: user("x"), logprobs: true, top_logprobs: 21},
})) {
  try {
    await client.chat.completions.create(request);
    out.errors[name] = {status: 200};
  } catch (e) {
    out.errors[name] = {status: e.status, message: e.error?.message ?? String(e)};
  }
}
console.log(JSON.stringify(out));
