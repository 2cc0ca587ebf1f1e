// Server-rendered HTML for the CLI approval page. Every interpolated value is escaped unless it is
// already markup built here (`Html`), so nothing a request or an event carries can become markup.
import { createHash } from 'node:crypto';
import { html, Html } from '../../markup.ts';

// Contrast: text #1a1a1a and links/buttons #0b57d0 on white pass WCAG AA; focus is a 3 px
// outline; sizes are rem, so the page follows the reader's font size; one column on a phone.
const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1a1a1a;background:#f4f5f7}
body{margin:0;padding:1rem}
main{max-width:34rem;margin:2rem auto;background:#fff;border:1px solid #c9ccd1;border-radius:.5rem;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 1rem}
h2{font-size:1.1rem;margin:1.25rem 0 .5rem}
p{margin:.75rem 0}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=email]{box-sizing:border-box;width:100%;font-size:1.1rem;padding:.6rem;border:2px solid #5f6368;border-radius:.375rem}
.check{display:flex;gap:.6rem;align-items:flex-start;font-weight:400}
.check input{width:1.3rem;height:1.3rem;margin-top:.15rem;flex:none}
button{font-size:1.05rem;padding:.7rem 1.2rem;border-radius:.375rem;border:2px solid #0b57d0;cursor:pointer;min-height:2.75rem}
.primary{background:#0b57d0;color:#fff}
.secondary{background:#fff;color:#0b57d0}
.danger{background:#fff;color:#a50e0e;border-color:#a50e0e}
.link{background:none;border:none;color:#0b57d0;text-decoration:underline;padding:0;min-height:0;font-size:1rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.25rem}
:focus-visible{outline:3px solid #e37400;outline-offset:2px}
.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.8rem;letter-spacing:.15em;font-weight:700;text-align:center;background:#eef2fb;border:2px solid #0b57d0;border-radius:.375rem;padding:.5rem;margin:.5rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:1rem 0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
.error{color:#a50e0e;background:#fdecea;border-left:4px solid #a50e0e;padding:.5rem .75rem}
.ok{color:#0d652d;background:#e6f4ea;border-left:4px solid #0d652d;padding:.5rem .75rem}
.muted{color:#4a4f55;font-size:.95rem}
.nowrap{white-space:nowrap}
@media (max-width:30rem){main{margin:0;padding:1rem}dl{grid-template-columns:1fr}dd{margin-bottom:.5rem}}
`;

/** The stylesheet is inline and allowed by its hash, so the CSP needs no 'unsafe-inline'. */
const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src '${STYLE_HASH}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** A whole document. */
export function page(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.markup;
}
