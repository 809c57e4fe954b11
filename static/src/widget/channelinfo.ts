/** What the widget takes from the channel info document
 * (GET /chat/1.0/brand/{b}/channel/{c}?locale=, reference §7.8): texts for the
 * visitor's locale (welcome message included), theme colours, attachment
 * limits and the pre-chat form. The loader inlines only what a button needs. */
import type { FileRules } from "./files";
import type { FieldDefinition } from "./forms";

export interface ChannelSettings {
  translations: Record<string, string>;
  colors: Record<string, string>;
  welcome: string;
  files: FileRules;
  preContactFields: FieldDefinition[];
}

export function locale(language: string): string {
  return language.replace("-", "_");
}

export function fromChannelInfo(info: any): ChannelSettings {
  const translations: Record<string, string> = {};
  for (const [key, value] of Object.entries(info?.translations || {})) {
    if (typeof value === "string") translations[key] = value;
  }
  const restrictions = info?.settings?.fileRestrictions || {};
  const customerIdents = new Set((info?.endUserCustomFields || []).map((field: any) => field?.ident));
  const preContactFields = ((info?.preContactForm?.customFields || []) as any[])
    .filter((entry) => entry && entry.definition && typeof entry.definition.ident === "string")
    .map((entry) => {
      const definition = entry.definition;
      const type = definition.parleyType || definition.type;
      return {
        ident: definition.ident,
        label: String(definition.label || definition.ident),
        scope: customerIdents.has(definition.ident) ? "customer" : "contact",
        type: ["text", "email", "list", "date"].includes(type) ? type : "text",
        required: !!(entry.isRequired || definition.required),
        choices: (definition.values || []).map((choice: any) => ({
          value: String(choice.value ?? choice.name),
          label: String(choice.label || choice.name || choice.value),
        })),
      } as FieldDefinition;
    });
  return {
    translations,
    colors: info?.colors || {},
    welcome: translations.welcomeMessage || "",
    files: {
      enabled: restrictions.isAttachmentsEnabled !== false && !!restrictions.allowedFileSize,
      maxSizeMb: Number(restrictions.allowedFileSize) || 0,
      types: (restrictions.allowedFileTypes || []).map((type: any) => String(type.mimeType)).filter(Boolean),
    },
    preContactFields,
  };
}

export async function fetchChannelInfo(base: string, brandId: number, channelId: string): Promise<ChannelSettings> {
  const response = await fetch(
    `${base}/chat/1.0/brand/${brandId}/channel/${encodeURIComponent(channelId)}?locale=${locale(navigator.language)}`,
    { headers: { Accept: "application/json" } },
  );
  if (!response.ok) throw new Error(`channel info: ${response.status}`);
  return fromChannelInfo(await response.json());
}
