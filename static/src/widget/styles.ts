/** The widget's stylesheet, adopted by its shadow root as a constructed
 * stylesheet: no <style> element, no style attribute, so a host page's strict
 * Content-Security-Policy needs no 'unsafe-inline', and no rule leaks either way.
 * Theme colours arrive as custom properties set through the CSSOM (theme()). */

export const CSS = `
:host{all:initial!important;--t:#2f5d8a;--hb:#2f5d8a;--hf:#fff;--tx:#1f2933;--bg:#fff;--bt:#2f5d8a}
*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:inherit;margin:0}
.launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;border:0;border-radius:50%;
cursor:pointer;background:var(--bt);color:var(--hf);box-shadow:0 2px 10px #0004;padding:0}
.launcher svg{width:28px;height:28px;fill:currentColor}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#c62828;color:#fff;
font-size:12px;line-height:20px;text-align:center;padding:0 5px}
.window{position:fixed;bottom:20px;right:20px;z-index:2147483001;width:370px;height:560px;max-height:calc(100vh - 40px);
max-width:calc(100vw - 40px);display:flex;flex-direction:column;background:var(--bg);color:var(--tx);border-radius:12px;
box-shadow:0 6px 30px #0005;overflow:hidden}
.embedded{position:static;width:100%;height:100%;max-height:none;max-width:none;box-shadow:none;border-radius:0}
[hidden]{display:none!important}
header{display:flex;align-items:center;gap:6px;padding:10px 12px;background:var(--hb);color:var(--hf)}
header h2{flex:1;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
button{cursor:pointer;border:0;border-radius:6px;padding:6px 10px;background:var(--t);color:var(--hf)}
button.icon{background:transparent;color:inherit;padding:4px 8px;font-size:18px;line-height:1}
button.link{background:transparent;color:var(--t);text-decoration:underline;padding:2px 4px}
button:disabled{opacity:.5;cursor:default}
:focus-visible{outline:3px solid #1a73e8;outline-offset:1px}
.body{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}
.notice{align-self:center;text-align:center;font-size:12px;color:#52606d;padding:2px 8px}
.msg{max-width:80%;display:flex;flex-direction:column;gap:2px}
.msg.in{align-self:flex-end;align-items:flex-end}
.msg.out{align-self:flex-start}
.bubble{padding:8px 11px;border-radius:14px;background:#eef1f4;white-space:pre-wrap;overflow-wrap:anywhere}
.in .bubble{background:var(--t);color:var(--hf)}
.meta{font-size:11px;color:#52606d}
.bubble a{color:inherit;text-decoration:underline}.bubble code{font-family:ui-monospace,monospace;font-size:13px}
.actions{display:flex;flex-wrap:wrap;gap:4px;margin-top:4px}
.actions button{background:var(--bg);color:var(--t);border:1px solid var(--t)}
.card{border:1px solid #d9dee3;border-radius:10px;overflow:hidden;background:var(--bg)}
.card img{display:block;max-width:100%}
.card a{display:block;padding:8px 11px;color:var(--t)}
.file a{color:inherit}
.file img{max-width:220px;max-height:200px;border-radius:8px;display:block}
.typing{font-size:12px;color:#52606d;padding:0 12px 4px;min-height:16px}
form.composer{display:flex;align-items:flex-end;gap:4px;border-top:1px solid #e4e7eb;padding:8px}
textarea{flex:1;resize:none;border:1px solid #cbd2d9;border-radius:8px;padding:7px;max-height:120px;background:var(--bg);color:var(--tx)}
.composer .icon{color:var(--t)}
.icon svg{width:20px;height:20px;fill:currentColor;vertical-align:middle}
.form{display:flex;flex-direction:column;gap:10px}
label{display:flex;flex-direction:column;gap:3px;font-weight:600}
input,select{font-weight:400;border:1px solid #cbd2d9;border-radius:6px;padding:7px;background:var(--bg);color:var(--tx)}
.error{color:#b00020;font-size:12px}
ul.threads{list-style:none;padding:0;display:flex;flex-direction:column;gap:6px}
ul.threads li{display:flex;align-items:center;gap:4px;border:1px solid #e4e7eb;border-radius:8px;padding:4px}
ul.threads li>button:first-child{flex:1;text-align:left;background:transparent;color:var(--tx)}
form.rename{display:flex;gap:4px;flex:1}form.rename input{flex:1}
.emoji{display:grid;grid-template-columns:repeat(8,1fr);gap:2px;padding:6px;border-top:1px solid #e4e7eb}
.emoji button{background:transparent;font-size:20px;padding:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

const THEME: Record<string, string> = {
  themeColor: "--t",
  headerBgColor: "--hb",
  headerFontColor: "--hf",
  textColor: "--tx",
  widgetBgColor: "--bg",
  buttonColor: "--bt",
};

/** Applies the channel's theme colours as custom properties (only well-formed colours). */
export function theme(host: HTMLElement, colours: Record<string, string> | undefined): void {
  for (const [key, property] of Object.entries(THEME)) {
    const value = colours && colours[key];
    if (typeof value === "string" && /^#[0-9a-fA-F]{3,8}$|^rgba?\([\d\s.,%]+\)$/.test(value)) {
      host.style.setProperty(property, value);
    }
  }
}

export function stylesheet(): CSSStyleSheet {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  return sheet;
}
