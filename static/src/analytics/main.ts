/** Web analytics module (seed 000): loaded by the loader beside session storage. */
import type { ParleyContext, SessionStore } from "../common/context";
import { type AnalyticsApi, createTracker } from "./tracker";

export default async function init(context: ParleyContext): Promise<AnalyticsApi> {
  const store = (await context.load("session")) as SessionStore;
  return createTracker(context, store);
}
