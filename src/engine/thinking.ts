/**
 * Reasoning models (Qwen3, DeepSeek-R1 style) write their thinking between <think> and </think>
 * before the answer. These split it out, whole or as it streams, so that APIs can return it apart
 * (Ollama's `thinking`), and tell whether a chat template can turn thinking on and off.
 */
const OPEN = "<think>";
const CLOSE = "</think>";

/** Whether a chat template knows a thinking switch or thinking blocks. */
export function templateSupportsThinking(templateSource: string | undefined): boolean {
  return templateSource !== undefined && (templateSource.includes("enable_thinking") || templateSource.includes(OPEN));
}

/** Whether a prompt ends inside an opened think block (templates that start the model's thinking for it). */
export function promptOpensThinking(promptTail: string): boolean {
  return promptTail.trimEnd().endsWith(OPEN);
}

/**
 * Splits a whole reply: the text of a leading think block, and the rest. `startInside`: the prompt
 * opened the block, so the reply begins inside it and only closes it.
 */
export function splitThinking(text: string, startInside = false): { thinking: string; content: string } {
  const splitter = new ThinkingSplitter(startInside);
  const first = splitter.push(text);
  const last = splitter.finish();
  return { thinking: (first.thinking + last.thinking).trim(), content: (first.content + last.content).replace(/^\s+/, "") };
}

/** Splits a streamed reply piece by piece; tags cut across pieces are held back until they are whole. */
export class ThinkingSplitter {
  private state: "start" | "thinking" | "afterThinking" | "answer";
  private pending = "";

  /** `startInside`: the prompt opened the think block; the reply starts in it. */
  constructor(startInside = false) {
    this.state = startInside ? "thinking" : "start";
  }

  push(text: string): { thinking: string; content: string } {
    this.pending += text;
    let thinking = "";
    let content = "";
    for (;;) {
      if (this.state === "start") {
        const trimmed = this.pending.trimStart();
        if (trimmed.startsWith(OPEN)) {
          this.pending = trimmed.slice(OPEN.length);
          this.state = "thinking";
          continue;
        }
        if (trimmed.length < OPEN.length && OPEN.startsWith(trimmed)) return { thinking, content };
        this.state = "answer";
        continue;
      }
      if (this.state === "thinking") {
        const end = this.pending.indexOf(CLOSE);
        if (end >= 0) {
          thinking += this.pending.slice(0, end);
          this.pending = this.pending.slice(end + CLOSE.length);
          this.state = "afterThinking";
          continue;
        }
        const keep = partialSuffix(this.pending, CLOSE);
        thinking += this.pending.slice(0, this.pending.length - keep);
        this.pending = this.pending.slice(this.pending.length - keep);
        return { thinking, content };
      }
      if (this.state === "afterThinking") {
        // The blank lines between the think block and the answer belong to neither.
        this.pending = this.pending.replace(/^\s+/, "");
        if (this.pending === "") return { thinking, content };
        this.state = "answer";
      }
      content += this.pending;
      this.pending = "";
      return { thinking, content };
    }
  }

  /** What is still held back when the reply ends. */
  finish(): { thinking: string; content: string } {
    const rest = this.pending;
    this.pending = "";
    return this.state === "thinking" ? { thinking: rest, content: "" } : { thinking: "", content: rest };
  }
}

function partialSuffix(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length--) {
    if (tag.startsWith(text.slice(-length))) return length;
  }
  return 0;
}
