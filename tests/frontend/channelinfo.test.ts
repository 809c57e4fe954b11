import { describe, expect, it } from "vitest";
import { fromChannelInfo, locale } from "../../static/src/widget/channelinfo";

describe("channel info", () => {
  it("takes texts, welcome message, file limits and the pre-chat form", () => {
    const settings = fromChannelInfo({
      translations: { weAreOnline: "Chat with us", welcomeMessage: "Hi!", nested: { no: 1 } },
      colors: { themeColor: "#112233" },
      settings: {
        fileRestrictions: {
          allowedFileSize: "10",
          allowedFileTypes: [{ mimeType: "image/*", description: "images" }, { mimeType: "application/pdf" }],
          isAttachmentsEnabled: true,
        },
      },
      endUserCustomFields: [{ ident: "email" }],
      preContactForm: {
        customFields: [
          { isRequired: true, definition: { ident: "email", label: "E-mail", type: "email" } },
          {
            isRequired: false,
            definition: {
              ident: "topic",
              label: "Topic",
              type: "list",
              values: [{ name: "order", value: "order", label: "My order" }],
            },
          },
          { isRequired: false, definition: { ident: "since", label: "Since", type: "text", parleyType: "date" } },
          { isRequired: false },
        ],
      },
    });

    expect(settings).toEqual({
      translations: { weAreOnline: "Chat with us", welcomeMessage: "Hi!" },
      colors: { themeColor: "#112233" },
      welcome: "Hi!",
      files: { enabled: true, maxSizeMb: 10, types: ["image/*", "application/pdf"] },
      preContactFields: [
        { ident: "email", label: "E-mail", scope: "customer", type: "email", required: true, choices: [] },
        { ident: "topic", label: "Topic", scope: "contact", type: "list", required: false, choices: [{ value: "order", label: "My order" }] },
        { ident: "since", label: "Since", scope: "contact", type: "date", required: false, choices: [] },
      ],
    });
  });

  it("turns attachments off when the channel disables them", () => {
    const settings = fromChannelInfo({ settings: { fileRestrictions: { allowedFileSize: "10", isAttachmentsEnabled: false } } });

    expect(settings.files.enabled).toBe(false);
    expect(fromChannelInfo(null).preContactFields).toEqual([]);
  });

  it("sends the locale with an underscore", () => {
    expect(locale("de-AT")).toBe("de_AT");
  });
});
