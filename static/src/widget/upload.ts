/** Attachment upload, loaded on first use (reference §2.4, §9): the file goes as
 * base64 JSON to POST …/attachment; the server enforces the channel's limits
 * and answers {fileUrl}, or {allowedFileSize, allowedFileTypes} when refused.
 * (files.ts checks the same limits first, so the visitor learns at once.) */
export function toBase64(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export async function upload(base: string, brandId: number, channelId: string, file: File): Promise<string> {
  const content = toBase64(await file.arrayBuffer());
  const response = await fetch(
    `${base}/chat/1.0/brand/${brandId}/channel/${encodeURIComponent(channelId)}/attachment`,
    {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ content, fileName: file.name, mimeType: file.type }),
    },
  );
  const body = await response.json().catch(() => ({}));
  if (response.ok && typeof body.fileUrl === "string") return body.fileUrl;
  throw new Error("");
}
