/** The dashboard's page: the sign-in form and the board, filled in by app.js. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Presence Hub — live presence</title>
<link rel="stylesheet" href="/dashboard/style.css">
<script src="/dashboard/queue.js" defer></script>
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header>
<h1>Live presence</h1>
<span id="connection" role="status" aria-live="polite" data-state="signed-out">Signed out</span>
<button id="sign-out" type="button" hidden>Sign out</button>
</header>
<main>
<noscript><p>This page needs JavaScript. The same information: <code>GET /v1/presence</code> and <code>GET /v1/stream</code> (README, HTTP API).</p></noscript>
<form id="sign-in" hidden>
<h2>Sign in</h2>
<p>Paste an API key of your organisation: a supervisor key shows what everyone is doing and until when, an admin key also why, a member key who is available. The key stays in this browser tab.</p>
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required>
<button type="submit">Show presence</button>
<p id="sign-in-error" role="alert"></p>
</form>
<section id="board" hidden aria-labelledby="board-title">
<h2 id="board-title" tabindex="-1" class="visually-hidden">Who can take a call</h2>
<div class="toolbar">
<span id="team-picker" hidden><label for="team">Team</label> <select id="team"><option value="">Everyone</option></select></span>
<span id="queue-picker" hidden><label for="queue">Queue</label> <select id="queue"><option value="">None</option></select></span>
<label for="filter">Find</label> <input id="filter" type="search" autocomplete="off">
</div>
<section id="queue-panel" hidden aria-labelledby="queue-title" aria-live="polite">
<h3 id="queue-title"></h3>
<p id="queue-state"></p>
<ol id="queue-ring" aria-label="A call now rings, in order"></ol>
<p id="queue-then"></p>
<p id="queue-error" role="alert"></p>
</section>
<p id="summary" aria-live="polite"></p>
<table id="people" aria-describedby="summary">
<thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col" class="queue">In the queue</th><th scope="col">Since</th><th scope="col">Until · next</th><th scope="col" class="reach">Reachable on</th><th scope="col" class="why">Why</th></tr></thead>
<tbody></tbody>
</table>
<p id="empty" hidden>Nobody to show yet.</p>
</section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.2rem;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:1.2rem;margin:0;flex:1}main{padding:1rem 1.2rem;max-width:72rem}
#connection{font-size:.9rem;padding:.1rem .6rem;border-radius:1rem;background:#eee}
#connection[data-state=live]{background:#e3f5e6;color:#1b5e20}#connection[data-state=reconnecting]{background:#fff4e5;color:#8a4b00}
form{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem;max-width:36rem}
input,select,button{font:inherit;padding:.3rem .5rem;border:1px solid #888;border-radius:6px;background:#fff}
button{cursor:pointer}#sign-in-error{color:#b00020}
.toolbar{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}#summary{color:#444}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
thead th{font-size:.85rem;color:#555;border-bottom:2px solid #ddd}
table:not(.with-why) .why,table:not(.with-reach) .reach,table:not(.with-queue) .queue{display:none}
#queue-panel{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.6rem 1rem;margin:.8rem 0}
#queue-panel h3{font-size:1rem;margin:0 0 .3rem}#queue-panel p{margin:.3rem 0}#queue-ring{margin:.3rem 0;padding-left:1.4rem}
td.queue[data-verdict=rings]{color:#1b5e20}td.queue:not([data-verdict=rings]){color:#555}
td.queue button{margin-left:.5rem;font-size:.85rem;padding:.05rem .45rem}#queue-error{color:#b00020}
.dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;margin-right:.4rem;background:#9e9e9e}
tr[data-availability=available] .dot{background:#2e7d32}tr[data-availability=busy] .dot{background:#c62828}
tr[data-availability=dnd] .dot{background:#6a1b9a}tr[data-availability=away] .dot{background:#f9a825}
.activity,small,.next{color:#555}.callable{color:#1b5e20}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
li[data-verdict=won]{font-weight:600}details ul{margin:.3rem 0;padding-left:1.1rem;font-size:.9rem}
`;
