import { Template } from "@huggingface/jinja";
import { EngineError } from "./errors.js";

export type ChatRole = "system" | "user" | "assistant" | "tool";

/**
 * One turn of a chat. Field names are those chat templates read (Hugging Face's conventions), so
 * the messages go to the template as they are.
 */
export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
  /** An assistant turn's tool calls. */
  readonly tool_calls?: readonly ToolCallMessagePart[];
  /** A tool turn: the call it answers. */
  readonly tool_call_id?: string;
  /** A tool turn: the tool that answered. */
  readonly name?: string;
}

/** A call as templates expect it: arguments as an object (templates apply `tojson` to it). */
export interface ToolCallMessagePart {
  readonly id?: string;
  readonly type: "function";
  readonly function: { readonly name: string; readonly arguments: unknown };
}

/** What llama.cpp falls back to when a model has no template of its own: ChatML. */
const CHATML_FALLBACK = `{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}`;

/**
 * A model's Jinja chat template, rendered the way Hugging Face's apply_chat_template and
 * llama.cpp's --jinja mode do: `messages`, `add_generation_prompt`, `bos_token`, `eos_token`.
 */
export class ChatTemplate {
  private readonly template: Template | undefined;
  /** Why the model's template could not be used; raised when a chat is rendered, not at load time. */
  private readonly problem: string | undefined;
  /** True when the model carries no template and ChatML is used instead. */
  readonly isFallback: boolean;
  /** Text that ends an assistant turn in the fallback format (the model may write it as text). */
  readonly stopStrings: readonly string[];

  constructor(
    /** The model's template text; undefined when it has none. */
    readonly source: string | undefined,
    private readonly specialTokens: { bos: string; eos: string },
  ) {
    this.isFallback = source === undefined;
    this.stopStrings = this.isFallback ? ["<|im_end|>", "<|im_start|>"] : [];
    try {
      this.template = new Template(source ?? CHATML_FALLBACK);
    } catch (error) {
      // A broken template must not make the model unusable for plain completions.
      this.problem = `the model's chat template does not parse: ${(error as Error).message}`;
    }
  }

  /** The prompt text for a conversation, ending where the assistant's reply begins. */
  render(messages: readonly ChatMessage[], variables: Record<string, unknown> = {}): string {
    if (this.template === undefined) throw new EngineError("TEMPLATE_ERROR", this.problem!);
    try {
      return this.template.render({
        messages,
        add_generation_prompt: true,
        bos_token: this.specialTokens.bos,
        eos_token: this.specialTokens.eos,
        ...variables,
      });
    } catch (error) {
      throw new EngineError("TEMPLATE_ERROR", `the model's chat template failed on these messages: ${(error as Error).message}`);
    }
  }
}
