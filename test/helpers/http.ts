/** Reading thinggate's JSON error bodies (`{ code, reason }`) in tests. */

/** The `code` of a JSON error answer. */
export async function errorCodeOf(res: { json(): Promise<unknown> }): Promise<string | undefined> {
  const body = (await res.json()) as { code?: unknown };
  return typeof body.code === 'string' ? body.code : undefined;
}
