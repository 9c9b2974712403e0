// The caller's token: typed into the login form, kept in sessionStorage (gone when the tab
// closes, never shared with other tabs or sent anywhere but this controller's API), and sent as
// X-Auth-Token on every fetch.

const KEY = 'weft.token';

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  login(token) {
    sessionStorage.setItem(KEY, token.trim());
  },
  logout() {
    sessionStorage.removeItem(KEY);
  },
};

/** fetch() against the API with the token. */
export function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const token = session.token;
  if (token) headers.set('X-Auth-Token', token);
  headers.set('Accept', 'application/json');
  return fetch(path, { ...init, headers, cache: 'no-store' });
}
