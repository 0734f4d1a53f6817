// dist/webdit.js, the one-file module a page loads with <script type="module">: the browser API, and
// <webdit-video> defined on import.

export * from './index.ts';
export * from './element.ts';
