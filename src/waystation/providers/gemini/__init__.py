"""The Gemini `generateContent` wire format (Google AI Studio's Gemini API, `google/` models).

`translate.GeminiAdapter` is the entry point; `request`, `contents`, `media`, `params`,
`thinking`, `tools` and `schema` build the request, `response` and `stream` read the answer,
`errors` maps the failures. See docs/providers/gemini.md for what is supported and how.
"""
