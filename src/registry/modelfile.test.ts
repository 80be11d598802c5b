import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RegistryError } from "./errors.js";
import { parseModelfile } from "./modelfile.js";

describe("Modelfile", () => {
  it("reads Ollama's instructions: bare, quoted and triple-quoted values, repeated stops, messages, comments", () => {
    const parsed = parseModelfile(`# a storyteller
FROM ./base.gguf
PARAMETER temperature 0.7
PARAMETER stop "<|end|>"
PARAMETER stop User:
parameter num_predict 128
SYSTEM """You tell short stories.
Keep them kind."""
MESSAGE user Tell me one
MESSAGE assistant "Once upon a time..."
MESSAGE user """Another,
please."""
TEMPLATE """{% for message in messages %}{{ message['content'] }}{% endfor %}"""
LICENSE MIT
`);
    assert.deepEqual(parsed, {
      from: "./base.gguf",
      config: {
        system: "You tell short stories.\nKeep them kind.",
        template: "{% for message in messages %}{{ message['content'] }}{% endfor %}",
        parameters: { temperature: 0.7, stop: ["<|end|>", "User:"], num_predict: 128 },
        messages: [
          { role: "user", content: "Tell me one" },
          { role: "assistant", content: "Once upon a time..." },
          { role: "user", content: "Another,\nplease." },
        ],
        license: "MIT",
      },
    });
  });

  it("refuses what slmkit cannot honour, naming the line", () => {
    const cases: Array<[string, RegExp]> = [
      ["PARAMETER temperature 0.5", /no FROM line/],
      ["FROM x\nPARAMETER mirostat 1", /line 2: PARAMETER mirostat is not one slmkit applies/],
      ["FROM x\nPARAMETER top_k 1.5", /top_k takes a whole number/],
      ["FROM x\nPARAMETER temperature 150", /temperature must be from 0 to 2/],
      ['FROM x\nTEMPLATE """{% for m in messages %}"""', /not valid Jinja/],
      ['FROM x\nTEMPLATE """{{ .Prompt }}"""', /Ollama Go template/],
      ["FROM x\nADAPTER ./lora.gguf", /line 2: ADAPTER/],
      ["FROM x\nMESSAGE tool hi", /MESSAGE role must be system, user or assistant/],
      ['FROM x\nSYSTEM """never closed', /never closed/],
      ["FROM x\nFROBNICATE y", /unknown instruction 'FROBNICATE'/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseModelfile(text), (error: unknown) => error instanceof RegistryError && message.test(error.message), text);
    }
  });
});
