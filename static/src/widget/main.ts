/** The chat client module: default export init(context) -> WidgetApi.
 * Loaded by the loader (or the chat manager) only when something is to be shown.
 * See docs/frontend.md. */
import type { ParleyContext, SessionStore, WidgetApi } from "../common/context";
import { ChatWidget } from "./widget";

export default async function init(context: ParleyContext): Promise<WidgetApi> {
  const session = (await context.load("session")) as SessionStore;
  const widget = new ChatWidget(context, session);
  context.command("open", (options) => widget.open(options as { message?: string; welcome?: string }));
  context.command("minimize", () => widget.minimize());
  context.emit("widget:ready");
  return widget;
}
