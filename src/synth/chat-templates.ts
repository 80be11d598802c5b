/**
 * Jinja chat templates for synthetic models, written for slmkit in the style of the families they
 * stand in for. They are rendered by the engine exactly as a real model's template would be.
 */

/**
 * ChatML, as the Qwen family uses it: tools listed in a system turn, calls written as
 * <tool_call>{json}</tool_call>, tool results sent back in a user turn; and Qwen3's switch for
 * skipping the thinking block.
 */
export const CHATML_TEMPLATE = `{%- if tools -%}
{{- '<|im_start|>system\\n' -}}
{%- if messages[0]['role'] == 'system' -%}{{- messages[0]['content'] + '\\n\\n' -}}{%- endif -%}
{{- 'These tools may be called. Their JSON schemas are between <tools> and </tools>:\\n<tools>' -}}
{%- for tool in tools -%}{{- '\\n' + (tool | tojson) -}}{%- endfor -%}
{{- '\\n</tools>\\nTo call one, write <tool_call>{"name": <its name>, "arguments": <an object>}</tool_call>.<|im_end|>\\n' -}}
{%- endif -%}
{%- for message in messages -%}
{%- if tools and loop.first and message['role'] == 'system' -%}
{%- elif message['role'] == 'tool' -%}
{{- '<|im_start|>user\\n<tool_response>\\n' + message['content'] + '\\n</tool_response><|im_end|>\\n' -}}
{%- elif message['role'] == 'assistant' and message['tool_calls'] -%}
{{- '<|im_start|>assistant\\n' + message['content'] -}}
{%- for call in message['tool_calls'] -%}
{{- '\\n<tool_call>\\n{"name": "' + call['function']['name'] + '", "arguments": ' + (call['function']['arguments'] | tojson) + '}\\n</tool_call>' -}}
{%- endfor -%}
{{- '<|im_end|>\\n' -}}
{%- else -%}
{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\\n' -}}
{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}
{%- endif -%}`;

/** A tag-per-turn format in the style of Zephyr/TinyLlama chat models, ending turns with EOS. */
export const TAGGED_TURNS_TEMPLATE = `{{- bos_token -}}
{%- for message in messages -%}
{{- '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- endif -%}`;
