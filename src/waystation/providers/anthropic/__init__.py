"""The Anthropic Messages wire format (`POST /v1/messages`).

`translate.AnthropicAdapter` is the entry point; the other modules each hold one direction of
the translation: `messages` (chat messages → system + turns), `request` (parameters),
`response` (a Message → a chat completion), `stream` (events → chunks), `errors`, and
`profiles` (what each Claude model can take).
"""
