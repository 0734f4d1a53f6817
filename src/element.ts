// `import 'webdit/element'`: defines <webdit-video> (a page's element, so a side effect kept out of the
// main entry, which apps that call generate() themselves, workers and server renderers import).

export { WebditVideo, defineWebditVideo, type WebditVideoResult, type WebditDoneDetail, type WebditProgressDetail } from './ui/webdit-video.ts';
