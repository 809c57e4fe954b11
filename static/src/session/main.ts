/** Session storage module: per-tenant local/session storage and the page API's
 * identity commands. See docs/frontend.md. */
import type { ParleyContext, SessionStore } from "../common/context";
import { createStore, identify, setExtra } from "./store";

export default function init(context: ParleyContext): SessionStore {
  const store = createStore({ brandId: context.config.brandId });
  const identity = store.identity();
  context.command("identify", (values) => {
    if (identify(identity, values)) context.emit("identity:changed", identity);
  });
  context.command("set", (name, value) => {
    if (setExtra(identity, name, value)) context.emit("identity:changed", identity);
  });
  return store;
}
