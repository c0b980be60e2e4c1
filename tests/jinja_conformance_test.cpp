// Conformance of the Jinja engine with Python jinja2 3.1.6 configured as transformers
// configures it for chat templates (ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False)). Each expected
// string below is jinja2's output for that template and context.

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "text/jinja/template.h"

namespace tandem::jinja {
namespace {

struct ConformanceCase {
  const char* name;
  const char* source;
  const char* context;  // JSON object
  const char* expected;
};

const ConformanceCase
    kCases
        [] =
            {
                {"WhitespaceTrimAndLstrip",
                 R"jinja(a
  {% if true %}
  x
  {% endif %}
b
)jinja",
                 R"jinja({})jinja",
                 R"jinja(a
  x
b)jinja"},
                {"WhitespaceDash",
                 R"jinja({{- ' a ' -}}  
 {{ 'b' }} 
  {%- if true -%}  c  {%- endif -%}  
 d)jinja",
                 R"jinja({})jinja", R"jinja( a bcd)jinja"},
                {"LstripOnlyAtLineStart",
                 R"jinja(a  {% if true %}x{% endif %}
  {%+ if true %}y{% endif %}
	{% if true %}z{% endif %})jinja",
                 R"jinja({})jinja", R"jinja(a  x  yz)jinja"},
                {"CommentsAndRaw",
                 R"jinja(a{# c #}b
  {# line #}
c{% raw %}{{ x }}{% endraw %}d)jinja",
                 R"jinja({})jinja",
                 R"jinja(ab
c{{ x }}d)jinja"},
                {"LoopVariables",
                 R"jinja({% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}:{{ x }};{% else %}empty{% endfor %})jinja",
                 R"jinja({"xs": ["a", "b", "c"]})jinja",
                 R"jinja(10TrueFalse332:a;21FalseFalse321:b;32FalseTrue310:c;)jinja"},
                {"LoopElse", R"jinja({% for x in xs %}{{ x }}{% else %}empty{% endfor %})jinja",
                 R"jinja({"xs": []})jinja", R"jinja(empty)jinja"},
                {"LoopFilterAndCycle",
                 R"jinja({% for x in xs if x > 1 %}{{ x }}/{{ loop.length }}/{{ loop.cycle('a', 'b') }} {% endfor %})jinja",
                 R"jinja({"xs": [1, 2, 3, 4]})jinja", R"jinja(2/3/a 3/3/b 4/3/a )jinja"},
                {"LoopPrevNext",
                 R"jinja({% for x in xs %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}|{% endfor %})jinja",
                 R"jinja({"xs": [1, 2, 3]})jinja", R"jinja(<1>2|1<2>3|2<3>|)jinja"},
                {"LoopUnpackItems",
                 R"jinja({% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}{% for k, v in d | items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %})jinja",
                 R"jinja({"d": {"b": 1, "a": [2]}})jinja", R"jinja(b=1,a=[2],baba)jinja"},
                {"LoopControls",
                 R"jinja({% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %})jinja",
                 R"jinja({})jinja", R"jinja(0134)jinja"},
                {"NestedLoops",
                 R"jinja({% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %})jinja",
                 R"jinja({})jinja", R"jinja(11x 21y 1|12x 22y 2|)jinja"},
                {"NamespaceEscapesLoop",
                 R"jinja({% set ns = namespace(n=0, s='') %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }})jinja",
                 R"jinja({})jinja", R"jinja(10 01234)jinja"},
                {"SetScoping",
                 R"jinja({% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 3 %}{% endif %}{{ x }})jinja",
                 R"jinja({})jinja", R"jinja(213)jinja"},
                {"SetTupleAndBlock",
                 R"jinja({% set a, b = 1, 2 %}{{ a }}{{ b }}{% set s %}a{{ 1 + 1 }}b{% endset %}{{ s | upper }}{% set t | trim %}  z  {% endset %}[{{ t }}])jinja",
                 R"jinja({})jinja", R"jinja(12A2B[z])jinja"},
                {"Macros",
                 R"jinja({% macro m(a, b='d') %}[{{ a }}{{ b }}{{ varargs | length }}]{% endmacro %}{{ m(1) }}{{ m(2, b='x') }}{{ m(1, 2, 3) }})jinja",
                 R"jinja({})jinja", R"jinja([1d0][2x0][121])jinja"},
                {"CallBlock",
                 R"jinja({% macro w(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call w('p') %}in{{ 1 }}{% endcall %})jinja",
                 R"jinja({})jinja", R"jinja(<p>in1</p>)jinja"},
                {"FilterBlock", R"jinja({% filter upper %}abc{{ 'd' }}{% endfilter %})jinja",
                 R"jinja({})jinja", R"jinja(ABCD)jinja"},
                {"Arithmetic",
                 R"jinja({{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ 1.5 + 1 }} {{ -(3) }} {{ 10 - 2 - 3 }} {{ 7.0 // 2 }} {{ 1 + true }})jinja",
                 R"jinja({})jinja",
                 R"jinja(3 -4 1 2 3.5 1024 7 9 ababab [1, 2] 2.5 -3 5 3.0 2)jinja"},
                {"Concat", R"jinja({{ 'a' ~ 1 ~ none ~ true ~ 1.5 }} {{ 'a' + 'b' }})jinja",
                 R"jinja({})jinja", R"jinja(a1NoneTrue1.5 ab)jinja"},
                {"Logic",
                 R"jinja({{ 1 < 2 and 2 <= 2 }} {{ not 1 == 1 }} {{ 'a' in 'cat' }} {{ 3 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ x if x else 'no' }} [{{ 'y' if false }}] {{ 0 or 'z' }} {{ 1 and 'w' }} {{ not x }} {{ 2 > 1 }} {{ 'b' >= 'a' }} {{ 1 != 2 }} {{ 1 == 1.0 }})jinja",
                 R"jinja({"x": ""})jinja",
                 R"jinja(True False True True True no [] z w True True True True True)jinja"},
                {"Tests",
                 R"jinja({{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 's' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 's' is sequence }} {{ 1 is number }} {{ true is true }} {{ false is false }} {{ 1 is true }} {{ 3 is odd }} {{ 4 is even }} {{ 4 is divisibleby 2 }} {{ 1 is not string }} {{ 2 is eq 2 }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ 'ab' is lower }} {{ x is not none }} {{ 3 is in [1, 3] }})jinja",
                 R"jinja({"x": 1})jinja",
                 R"jinja(True True True True True True True True True True False True True True True True True True True True True True)jinja"},
                {"Slicing",
                 R"jinja({{ [1,2,3,4][::-1] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1,2,3,4][1:] }} {{ [1,2,3,4][:-1] }} {{ 'héllo'[1] }} {{ [1,2,3,4][::2] }} {{ [1,2,3][-1] }} {{ 'héllo'[-4:] }} {{ [1,2,3][5:] }} {{ [1,2,3,4][-1:0:-2] }} {{ xs[0] }} {{ xs.1 }})jinja",
                 R"jinja({"xs": [7, 8]})jinja",
                 R"jinja([4, 3, 2, 1] el olleh [2, 3, 4] [1, 2, 3] é [1, 3] 3 éllo [] [4, 2] 7 8)jinja"},
                {"StringMethods", R"jinja({{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\n\na'.lstrip('\n') }}|{{ 'a\n\n'.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ 'hello wORLD-x'.title() }}|{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'hello'.capitalize() }}|{{ 'abcb'.find('b') }}|{{ 'abcb'.count('b') }}|{{ '-'.join(['a', 'b']) }})jinja", R"jinja({})jinja",
                 R"jinja(a b|a|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|True|True|bXb|ABab|Hello World-X|b|Hello|1|2|a-b)jinja"},
                {"DictMethods",
                 R"jinja({{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('zz', 5) }} {{ d.get('zz') }} {{ d['b'] }} {{ d.b }} {{ d.missing is defined }} {{ d | length }})jinja",
                 R"jinja({"d": {"b": 1, "a": "x"}})jinja",
                 R"jinja(['b', 'a'] [1, 'x'] x 5 None 1 1 False 2)jinja"},
                {"ToJson",
                 R"jinja({{ v | tojson }}
{{ v | tojson(indent=2) }}
{{ 'q"\\\té' | tojson }} {{ [] | tojson(indent=2) }} {{ 1.0 | tojson }} {{ 1e20 | tojson }})jinja",
                 R"jinja({"v": {"a": [1, 2.5, true, null, "é東\"\n"], "b": {}, "c": {"d": []}}})jinja",
                 R"jinja({"a": [1, 2.5, true, null, "é東\"\n"], "b": {}, "c": {"d": []}}
{
  "a": [
    1,
    2.5,
    true,
    null,
    "é東\"\n"
  ],
  "b": {},
  "c": {
    "d": []
  }
}
"q\"\\\té" [] 1.0 1e+20)jinja"},
                {"Filters",
                 R"jinja({{ ' x ' | trim }}|{{ [1,2] | length }}|{{ 'héllo' | length }}|{{ 42 | string }}|{{ '12' | int + 1 }}|{{ 'z' | int }}|{{ '1.5' | float }}|{{ 3 | float }}|{{ 'AbC' | lower }}{{ 'AbC' | upper }}|{{ [3,1] | first }}{{ [3,1] | last }}|{{ ['a','b'] | join(', ') }}|{{ [1, 2] | join }}|{{ u | default('d') }}|{{ '' | default('d', true) }}|{{ none | default('d') }}|{{ xs | selectattr('n') | map(attribute='n') | list }}|{{ xs | map(attribute='m', default=0) | list }}|{{ [1,2,3,4] | select('odd') | list }}|{{ [1,2,3,4] | reject('odd') | list }}|{{ xs | selectattr('n', 'equalto', 2) | list | length }}|{{ xs | rejectattr('n') | list | length }}|{{ xs | selectattr('n') | map(attribute='n') | join('+') }}|{{ 'aa' | replace('a', 'b') }}|{{ [1,2,1] | unique | list }}|{{ {'a': 1} | items | list | length }}|{{ ['a','b'] | map('upper') | list }}|{{ [0, 1, ''] | select | list }}|{{ 'ab' | list }}|{{ [3, 1, 2] | sort }}|{{ [1, 2] | reverse | list }}|{{ -3 | abs }}|{{ [1, 2] | sum }}|{{ [4, 9] | max }}{{ [4, 9] | min }}|{{ 'ab' | title }}|{{ '<&>' | e }})jinja",
                 R"jinja({"xs": [{"n": 1}, {"n": 2}, {"m": 3}]})jinja",
                 R"jinja(x|2|5|42|13|0|1.5|3.0|abcABC|31|a, b|12|d|d|None|[1, 2]|[0, 0, 3]|[1, 3]|[2, 4]|1|1|1+2|bb|[1, 2]|1|['A', 'B']|[1]|['a', 'b']|[1, 2, 3]|[2, 1]|3|3|94|Ab|&lt;&amp;&gt;)jinja"},
                {"Indent",
                 R"jinja([{{ 'a\nb\n\nc' | indent(2) }}]
[{{ 'a\nb' | indent(4, true) }}]
[{{ 'a\n\nb' | indent(2, blank=true) }}])jinja",
                 R"jinja({})jinja",
                 R"jinja([a
  b

  c]
[    a
    b]
[a
  
  b])jinja"},
                {"Printing",
                 R"jinja({{ [1, 'a', none, true, 1.5, {'k': 'v'}, "it's"] }} {{ none }} {{ true }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 123456789.0 }} {{ {'a': [1]} }} {{ u }}|{{ (1, 2) | length }})jinja",
                 R"jinja({})jinja",
                 R"jinja([1, 'a', None, True, 1.5, {'k': 'v'}, "it's"] None True 1.0 1e+20 0.30000000000000004 1e-05 123456789.0 {'a': [1]} |2)jinja"},
                {"StringEscapes",
                 R"jinja({{ 'a\tb\u00e9\x41' }}|{{ "d'q" }}|{{ 'it\'s' }}|{{ 'a' 'b' }})jinja",
                 R"jinja({})jinja", R"jinja(a	béA|d'q|it's|ab)jinja"},
                {"InlineIfFilterPrecedence",
                 R"jinja({{ '\n' + s | trim + '\n' }}|{{ xs | length - 1 }}|{{ -1 | abs }}|{{ not x is defined }}|{{ 'a' if x is defined and x > 0 else 'b' }}|{{ (xs | first).n if xs else 'e' }})jinja",
                 R"jinja({"s": "  t  ", "xs": [{"n": 1}, {"n": 2}, {"m": 3}], "x": 2})jinja",
                 R"jinja(
t
|2|1|False|a|1)jinja"},
                {"DictLiteral",
                 R"jinja({% set d = {'a': 1, 'b': [1, 2], 'c': {'x': none}} %}{{ d.c.x }} {{ d['b'][1] }} {{ d | tojson }} {{ dict(k=1) }})jinja",
                 R"jinja({})jinja",
                 R"jinja(None 2 {"a": 1, "b": [1, 2], "c": {"x": null}} {'k': 1})jinja"},
                {"MultilineTemplate",
                 R"jinja({%- for m in messages %}
    {%- if m.role == 'user' %}
        {{- '<u>' + m.content + '</u>\n' }}
    {%- else %}
        {{- '<a>' + m.content + '</a>\n' }}
    {%- endif %}
{%- endfor %}
)jinja",
                 R"jinja({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})jinja",
                 R"jinja(<u>hi</u>
<a>yo</a>
)jinja"},
                {"QwenCoderStyleToolTemplate",
                 R"jinja({% macro render_extra_keys(json_dict, handled_keys) %}
    {%- if json_dict is mapping %}
        {%- for json_key in json_dict if json_key not in handled_keys %}
            {%- if json_dict[json_key] is mapping or (json_dict[json_key] is sequence and json_dict[json_key] is not string) %}
                {{- '\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | tojson | safe) ~ '</' ~ json_key ~ '>' }}
            {%- else %}
                {{-'\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | string) ~ '</' ~ json_key ~ '>' }}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}

{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{%- if not tools is defined %}
    {%- set tools = [] %}
{%- endif %}

{%- if system_message is defined %}
    {{- "<|im_start|>system\n" + system_message }}
{%- else %}
    {%- if tools is iterable and tools | length > 0 %}
        {{- "<|im_start|>system\nYou are Qwen, a helpful AI assistant." }}
    {%- endif %}
{%- endif %}
{%- if tools is iterable and tools | length > 0 %}
    {{- "\n\n# Tools\n\nYou have access to the following functions:\n\n" }}
    {{- "<tools>" }}
    {%- for tool in tools %}
        {%- if tool.function is defined %}
            {%- set tool = tool.function %}
        {%- endif %}
        {{- "\n<function>\n<name>" ~ tool.name ~ "</name>" }}
        {%- if tool.description is defined %}
            {{- '\n<description>' ~ (tool.description | trim) ~ '</description>' }}
        {%- endif %}
        {{- '\n<parameters>' }}
        {%- if tool.parameters is defined and tool.parameters is mapping and tool.parameters.properties is defined and tool.parameters.properties is mapping %}
            {%- for param_name, param_fields in tool.parameters.properties|items %}
                {{- '\n<parameter>' }}
                {{- '\n<name>' ~ param_name ~ '</name>' }}
                {%- if param_fields.type is defined %}
                    {{- '\n<type>' ~ (param_fields.type | string) ~ '</type>' }}
                {%- endif %}
                {%- if param_fields.description is defined %}
                    {{- '\n<description>' ~ (param_fields.description | trim) ~ '</description>' }}
                {%- endif %}
                {%- set handled_keys = ['name', 'type', 'description'] %}
                {{- render_extra_keys(param_fields, handled_keys) }}
                {{- '\n</parameter>' }}
            {%- endfor %}
        {%- endif %}
        {%- set handled_keys = ['type', 'properties'] %}
        {{- render_extra_keys(tool.parameters, handled_keys) }}
        {{- '\n</parameters>' }}
        {%- set handled_keys = ['type', 'name', 'description', 'parameters'] %}
        {{- render_extra_keys(tool, handled_keys) }}
        {{- '\n</function>' }}
    {%- endfor %}
    {{- "\n</tools>" }}
    {{- '\n\nIf you choose to call a function ONLY reply in the following format:\n\n<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n</function>\n</tool_call>' }}
{%- endif %}
{%- if system_message is defined %}
    {{- '<|im_end|>\n' }}
{%- else %}
    {%- if tools is iterable and tools | length > 0 %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in loop_messages %}
    {%- if message.role == "assistant" and message.tool_calls is defined and message.tool_calls is iterable and message.tool_calls | length > 0 %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content is defined and message.content is string and message.content | trim | length > 0 %}
            {{- '\n' + message.content | trim + '\n' }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n<function=' + tool_call.name + '>\n' }}
            {%- if tool_call.arguments is defined %}
                {%- for args_name, args_value in tool_call.arguments|items %}
                    {{- '<parameter=' + args_name + '>\n' }}
                    {%- set args_value = args_value | tojson | safe if args_value is mapping or (args_value is sequence and args_value is not string) else args_value | string %}
                    {{- args_value }}
                    {{- '\n</parameter>\n' }}
                {%- endfor %}
            {%- endif %}
            {{- '</function>\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "user" or message.role == "system" or message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.previtem and loop.previtem.role != "tool" %}
            {{- '<|im_start|>user\n' }}
        {%- endif %}
        {{- '<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>\n' }}
        {%- if not loop.last and loop.nextitem.role != "tool" %}
            {{- '<|im_end|>\n' }}
        {%- elif loop.last %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)jinja",
                 R"jinja({"add_generation_prompt": true, "tools": [{"type": "function", "function": {"name": "get_weather", "description": "  Get weather.\n", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City", "enum": ["Paris", "Tōkyō"]}, "days": {"type": "integer", "minimum": 1}}, "required": ["city"]}, "strict": true}}], "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}, {"role": "assistant", "content": " Checking. ", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "opts": {"a": [1, null]}, "tags": ["x"]}}}, {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]}, {"role": "tool", "content": "sunny"}, {"role": "tool", "content": "rain"}, {"role": "user", "content": "Thanks"}]})jinja",
                 R"jinja(<|im_start|>system
Be brief.

# Tools

You have access to the following functions:

<tools>
<function>
<name>get_weather</name>
<description>Get weather.</description>
<parameters>
<parameter>
<name>city</name>
<type>string</type>
<description>City</description>
<enum>["Paris", "Tōkyō"]</enum>
</parameter>
<parameter>
<name>days</name>
<type>integer</type>
<minimum>1</minimum>
</parameter>
<required>["city"]</required>
</parameters>
<strict>True</strict>
</function>
</tools>

If you choose to call a function ONLY reply in the following format:

<tool_call>
<function=example_function_name>
<parameter=example_parameter_1>
value_1
</parameter>
</function>
</tool_call><|im_end|>
<|im_start|>user
Weather?<|im_end|>
<|im_start|>assistant
Checking.

<tool_call>
<function=get_weather>
<parameter=city>
Paris
</parameter>
<parameter=days>
2
</parameter>
<parameter=opts>
{"a": [1, null]}
</parameter>
<parameter=tags>
["x"]
</parameter>
</function>
</tool_call>
<tool_call>
<function=get_weather>
<parameter=city>
Rome
</parameter>
</function>
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
sunny
</tool_response>
<tool_response>
rain
</tool_response>
<|im_end|>
<|im_start|>user
Thanks<|im_end|>
<|im_start|>assistant
)jinja"},
                {"Qwen35StyleContentMacro",
                 R"jinja({%- set image_count = namespace(value=0) %}
{%- macro render_content(content, do_vision_count) %}
    {%- if content is string %}
        {{- content }}
    {%- elif content is iterable and content is not mapping %}
        {%- for item in content %}
            {%- if 'image' in item or 'image_url' in item or item.type == 'image' %}
                {%- if do_vision_count %}
                    {%- set image_count.value = image_count.value + 1 %}
                {%- endif %}
                {{- 'Picture ' ~ image_count.value ~ ': <|vision_start|><|image_pad|><|vision_end|>' }}
            {%- elif 'text' in item %}
                {{- item.text }}
            {%- else %}
                {{- raise_exception('Unexpected item type in content.') }}
            {%- endif %}
        {%- endfor %}
    {%- elif content is none or content is undefined %}
        {{- '' }}
    {%- else %}
        {{- raise_exception('Unexpected content type.') }}
    {%- endif %}
{%- endmacro %}
{%- for message in messages %}
    {%- set content = render_content(message.content, true) | trim %}
    {%- if message.role == "assistant" and '</think>' in content %}
        {%- set reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
        {%- set content = content.split('</think>')[-1].lstrip('\n') %}
        {{- '<|im_start|>assistant\n<think>\n' + reasoning + '\n</think>\n\n' + content + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n<think>\n' }}
{%- endif %}
)jinja",
                 R"jinja({"add_generation_prompt": true, "messages": [{"role": "user", "content": [{"type": "image", "image": "a.png"}, {"type": "text", "text": "  What is this?  "}, {"type": "image_url", "image_url": {"url": "b"}}]}, {"role": "assistant", "content": "<think>\nLooks like a cat.\n</think>\n\nA cat."}, {"role": "user", "content": null}, {"role": "user", "content": "More?"}]})jinja",
                 R"jinja(<|im_start|>user
Picture 1: <|vision_start|><|image_pad|><|vision_end|>  What is this?  Picture 2: <|vision_start|><|image_pad|><|vision_end|><|im_end|>
<|im_start|>assistant
<think>
Looks like a cat.
</think>

A cat.<|im_end|>
<|im_start|>user
<|im_end|>
<|im_start|>user
More?<|im_end|>
<|im_start|>assistant
<think>
)jinja"},
                {"MiscIdioms",
                 R"jinja({% set t = x | default([]) %}{{ t | length }} {{ '\n'.join(['a', 'b']) }} {{ [1, 2] is sequence }} {{ 'abc' is iterable }} {% for k, v in d.p | items %}{{ k }}:{{ v.type }} {% endfor %}{{ d.p.a['type'] }} {{ (d.p | list)[1] }})jinja",
                 R"jinja({"d": {"p": {"a": {"type": "string"}, "b": {"type": "int"}}}})jinja",
                 R"jinja(0 a
b True True a:string b:int string b)jinja"},
};

void PrintTo(const ConformanceCase& c, std::ostream* os) { *os << c.name; }

class JinjaConformance : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(JinjaConformance, MatchesPythonJinja2) {
  const ConformanceCase& c = GetParam();
  Template tmpl(c.source);
  EXPECT_EQ(tmpl.render(nlohmann::ordered_json::parse(c.context)), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, JinjaConformance, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ConformanceCase>& param) {
                           return std::string(param.param.name);
                         });

}  // namespace
}  // namespace tandem::jinja
