/**
 * Chat generation with tools, shared by the OpenAI and Ollama routes: content is passed on as it
 * comes except what may be a tool call, which is held back and read as calls when the reply ends.
 */
import { type GenerateRequest, type GenerateResult, type LoadedModel, type TokenLogprob, type ToolCall, type ToolChat, type ToolChoice, type ToolDefinition, parseToolCalls, prepareToolChat, ToolCallStreamFilter } from "../engine/index.js";
import type { ChatMessage, ChatTemplate } from "../engine/index.js";
import type { z } from "zod";
import { badRequest } from "./api-error.js";
import { engineCall, generate } from "./generation.js";
import type { RequestContext } from "./http.js";
import type { functionTool, toolChoice } from "./openai-wire.js";

/** A chat without tools (and plain generation): the reply is all content. */
export const WITHOUT_TOOLS: ToolChat = { messages: [], variables: {}, assistantPrefix: "", forced: false, toolNames: [] };

export interface ToolReply {
  readonly result: GenerateResult;
  /** The reply's text without its tool calls. */
  readonly content: string;
  readonly calls: readonly ToolCall[];
}

/** The chat prompt for a request with (or without) tools; 400 for a tool choice that names no given tool. */
export function toolChatPrompt(
  model: LoadedModel,
  messages: readonly ChatMessage[],
  tools: readonly ToolDefinition[],
  choice: ToolChoice,
  template: ChatTemplate = model.chatTemplate,
  /** More template variables (enable_thinking). */
  variables: Record<string, unknown> = {},
): { chat: ToolChat; tokens: GenerateRequest["prompt"]; stop: readonly string[] } {
  if (typeof choice === "object" && !tools.some((tool) => tool.name === choice.name)) {
    throw badRequest(`tool_choice names the function '${choice.name}', which is not in 'tools'`, "tool_choice");
  }
  if (choice === "required" && tools.length === 0) throw badRequest("tool_choice 'required' needs at least one tool in 'tools'", "tool_choice");
  const chat = prepareToolChat(template.source, messages, tools, choice);
  const prompt = engineCall(() => model.promptFromChat(chat.messages, { ...variables, ...chat.variables }, chat.assistantPrefix, template));
  return { chat, ...prompt };
}

/** The tools and tool choice of a request, as both APIs send them (Ollama's choice is slmkit's extension). */
export function toolRequestOf(
  tools: ReadonlyArray<z.infer<typeof functionTool>> | null | undefined,
  choice: z.infer<typeof toolChoice> | null | undefined,
): { tools: ToolDefinition[]; choice: ToolChoice } {
  const definitions = (tools ?? []).map(({ function: fn }) => ({ name: fn.name, ...(fn.description != null && { description: fn.description }), ...(fn.parameters != null && { parameters: fn.parameters }) }));
  const chosen: ToolChoice = choice == null ? (definitions.length > 0 ? "auto" : "none") : typeof choice === "string" ? choice : { name: choice.function.name };
  return { tools: definitions, choice: chosen };
}

/** Receives content as it is final, with its tokens' log probabilities when the request asked. */
export type ContentListener = (text: string, logprobs?: readonly TokenLogprob[]) => void;

/** Generates a chat reply; `onContent` receives the content as it is final (never a tool call's text). */
export async function generateToolReply(model: LoadedModel, request: GenerateRequest, chat: ToolChat, context: RequestContext, onContent?: ContentListener): Promise<ToolReply> {
  const syntax = chat.syntax;
  if (syntax === undefined) {
    const result = await generate(model, { ...request, onText: onContent }, context);
    return { result, content: result.text, calls: [] };
  }
  if (chat.forced) {
    // The request carries chat.grammar: the reply is the call's JSON; cut short (max tokens), it is given back as text.
    const result = await generate(model, request, context);
    const { calls } = parseToolCalls(result.text, "json", chat.toolNames);
    if (calls.length === 0 && result.text) onContent?.(result.text, result.logprobs);
    return { result, content: calls.length > 0 ? "" : result.text, calls };
  }
  const filter = new ToolCallStreamFilter(syntax);
  let sent = 0;
  // Log probabilities of held-back text go out with the next content sent.
  let pending: TokenLogprob[] = [];
  const send = (content: string): void => {
    sent += content.length;
    onContent?.(content, request.logprobs === undefined ? undefined : pending);
    pending = [];
  };
  const result = await generate(
    model,
    {
      ...request,
      onText: (piece, logprobs) => {
        pending.push(...(logprobs ?? []));
        const content = filter.push(piece);
        if (content) send(content);
      },
    },
    context,
  );
  const parsed = parseToolCalls(result.text, syntax, chat.toolNames);
  if (parsed.calls.length > 0) return { result, content: parsed.content, calls: parsed.calls };
  // What was held back was not a call after all: it is content.
  const rest = result.text.slice(sent);
  if (rest) send(rest);
  return { result, content: result.text, calls: [] };
}
