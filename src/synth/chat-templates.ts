/**
 * Jinja chat templates for synthetic models, written for slmkit in the style of the families they
 * stand in for. They are rendered by the engine exactly as a real model's template would be.
 */

/** ChatML, as the Qwen family uses it, with Qwen3's switch for skipping the thinking block. */
export const CHATML_TEMPLATE = `{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}
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
