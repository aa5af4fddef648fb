/** What the server tells the page through `data-*` attributes of `<body>`. */
export interface PageConfig {
  /** The presence timeout, shown in the "agent gone" hint. */
  presenceTimeoutMs: number;
}

const CSS = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --accent:#3056d3; --ok:#16a34a; --warn:#d97706; --bad:#dc2626; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
.app { max-width:860px; margin:0 auto; min-height:100vh; display:flex; flex-direction:column; padding:0 16px; }
header { display:flex; align-items:center; gap:12px; padding:16px 0 8px; }
header h1 { font-size:18px; margin:0; font-weight:650; }
header .sub { color:var(--muted); font-size:13px; }
header .spacer { flex:1; }
.pill { display:inline-flex; align-items:center; gap:6px; padding:3px 10px; border-radius:999px; font-size:13px; border:1px solid var(--line); background:var(--card); white-space:nowrap; }
.pill::before { content:""; width:8px; height:8px; border-radius:50%; background:var(--muted); }
.pill[data-status=live]::before { background:var(--ok); }
.pill[data-status=reconnecting]::before, .pill[data-status=connecting]::before { background:var(--warn); animation:blink 1s infinite; }
.pill[data-status=stopped]::before { background:var(--bad); }
@keyframes blink { 50% { opacity:.25; } }
.bar { display:flex; flex-wrap:wrap; align-items:center; gap:8px; padding:8px 0 12px; border-bottom:1px solid var(--line); }
.bar .label { color:var(--muted); font-size:13px; }
.presence { display:flex; flex-wrap:wrap; gap:6px; flex:1; }
.member { display:inline-flex; align-items:center; gap:6px; font-size:13px; padding:2px 10px 2px 4px; border-radius:999px; background:var(--card); border:1px solid var(--line); }
.member .avatar { width:20px; height:20px; border-radius:50%; display:grid; place-items:center; font-size:11px; color:#fff; background:#7c8aa5; }
.member[data-role=agent] .avatar { background:#7c3aed; }
.member[data-you] { border-color:var(--accent); }
.member .status { color:var(--muted); }
button { font:inherit; font-size:13px; padding:5px 12px; border-radius:8px; border:1px solid var(--line); background:var(--card); color:var(--ink); cursor:pointer; }
button:hover:not(:disabled) { border-color:#b8bfcc; }
button:disabled { opacity:.45; cursor:default; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.danger { color:var(--bad); }
.conversation { flex:1; padding:16px 0; display:flex; flex-direction:column; gap:14px; }
.empty { color:var(--muted); text-align:center; margin-top:48px; }
.empty .prompts { display:flex; flex-wrap:wrap; justify-content:center; gap:8px; margin-top:12px; }
.msg { max-width:85%; padding:10px 14px; border-radius:14px; white-space:pre-wrap; overflow-wrap:anywhere; }
.msg.user { align-self:flex-end; background:var(--accent); color:#fff; border-bottom-right-radius:4px; }
.msg.assistant { align-self:flex-start; background:var(--card); border:1px solid var(--line); border-bottom-left-radius:4px; }
.tool { font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace; background:#f3f0ff; border:1px solid #e4dcff; color:#4c1d95; border-radius:8px; padding:6px 10px; margin-bottom:8px; white-space:normal; }
.tool .out { color:#5b5f6b; display:block; margin-top:2px; }
.step-end { font-size:12px; color:var(--muted); margin:4px 0 8px; display:flex; align-items:center; gap:8px; }
.step-end::before, .step-end::after { content:""; flex:1; border-top:1px dashed var(--line); }
.text[data-streaming]::after { content:"▍"; color:var(--accent); animation:blink 1s infinite; }
.run-status { display:block; margin-top:8px; font-size:12px; color:var(--muted); }
.run-status[data-status=stopped] { color:var(--warn); }
.run-status[data-status=error] { color:var(--bad); }
.run-status[data-status=finished] { color:var(--ok); }
footer { position:sticky; bottom:0; background:var(--bg); padding:10px 0 16px; border-top:1px solid var(--line); }
form { display:flex; gap:8px; }
form input { flex:1; font:inherit; padding:9px 12px; border-radius:10px; border:1px solid var(--line); background:var(--card); }
.footnote { display:flex; gap:12px; align-items:center; margin-top:8px; font-size:12.5px; color:var(--muted); min-height:20px; }
.footnote .stop-status { color:var(--warn); font-weight:550; }
.footnote .stop-status[data-acknowledged] { color:var(--ok); }
.footnote a { color:var(--accent); }
`;

/** The demo page: a static shell that `app.js` fills in. */
export function pageHtml(config: PageConfig): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Durable Sessions — AI chat demo</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body data-presence-timeout-ms="${config.presenceTimeoutMs}">
<div class="app">
  <header>
    <div><h1>Durable Sessions</h1><div class="sub">an AI chat whose streams survive reloads, follow you across tabs, and stop on command</div></div>
    <div class="spacer"></div>
    <span class="pill" data-testid="connection-state" data-status="connecting">connecting…</span>
  </header>
  <div class="bar">
    <span class="label">Here now:</span>
    <div class="presence" data-testid="presence-bar"></div>
    <button type="button" data-testid="drop-button" title="Cut this tab's WebSocket for a moment; the client reconnects and resumes from its last offset">Simulate network drop</button>
    <button type="button" class="danger" data-testid="agent-button" title="Kill the agent without a goodbye; it leaves presence when its heartbeats time out">Crash agent</button>
  </div>
  <main class="conversation" data-testid="conversation"></main>
  <footer>
    <form data-testid="composer">
      <input data-testid="composer-input" name="text" autocomplete="off" placeholder="Ask the agent something — then reload, open a second tab, or press Stop">
      <button type="submit" class="primary" data-testid="send-button">Send</button>
      <button type="button" data-testid="stop-button" disabled>Stop</button>
    </form>
    <div class="footnote">
      <span class="stop-status" data-testid="stop-status"></span>
      <span class="spacer" style="flex:1"></span>
      <span>Same chat in another tab: <a data-testid="share-link" target="_blank" rel="noopener"></a></span>
    </div>
  </footer>
</div>
<script src="/app.js"></script>
</body>
</html>`;
}
