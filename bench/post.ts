// A JSON POST and its answer, for the bench's fixtures and for the load generator's CLI-login
// loop. Its own module, imported by both: the load generator runs in a child process that must
// not load the service (bench/service.ts).

export interface ApiAnswer {
  status: number;
  // The answers' shapes are the API's; the bench reads a field or two and checks them itself.
  json: any;
}

export async function post(baseUrl: string, path: string, headers: Record<string, string>, body: unknown): Promise<ApiAnswer> {
  const response = await fetch(baseUrl + path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}
