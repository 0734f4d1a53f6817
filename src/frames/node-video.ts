// Node has no WebCodecs. Two routes: @napi-rs/webcodecs (FFmpeg's encoders behind the WebCodecs API,
// prebuilt for Linux, macOS and Windows; an optional dependency), registered here as mediabunny's
// custom encoder, so encodeVideo() writes MP4 (H.264) and WebM (VP9) as in a browser; and libwebp's
// WebAssembly for the key-frame WebM where that package is absent.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { init } from '@jsquash/webp/encode.js';
import { CustomVideoEncoder, EncodedPacket, registerEncoder, type VideoCodec, type VideoSample } from 'mediabunny';
import { I420_COLOR_SPACE, rgbaToI420 } from './yuv.ts';
import { encodeVideo, encodeWebm, type EncodedVideo, type VideoCodecName } from './video.ts';

let webpReady: Promise<unknown> | undefined;

/** Loads libwebp's WebAssembly from the package's file (Node's fetch cannot read file URLs). */
export function initNodeVideoEncoder(): Promise<unknown> {
  const require = createRequire(import.meta.url);
  webpReady ??= readFile(require.resolve('@jsquash/webp/codec/enc/webp_enc_simd.wasm'))
    .then((bytes) => WebAssembly.compile(bytes))
    .then((module) => init(module));
  return webpReady;
}

/**
 * The part of @napi-rs/webcodecs used here, declared locally: the package is not a dependency (its
 * prebuilt binaries for other platforms are not on every registry, which breaks \`npm ci\` for everyone), so
 * it is loaded only where a user installed it (\`npm install @napi-rs/webcodecs\`; .ci/run does).
 */
interface NativeVideoEncoder {
  readonly state: string;
  configure(config: VideoEncoderConfig): void;
  encode(frame: NativeVideoFrame, options: { keyFrame: boolean }): void;
  flush(): Promise<void>;
  close(): void;
}
interface NativeVideoFrame {
  close(): void;
}
interface NapiEncodedChunk {
  readonly byteLength: number;
  readonly type: string;
  readonly timestamp: number;
  readonly duration: number | null;
  copyTo(destination: Uint8Array): void;
}
interface NapiWebCodecs {
  VideoEncoder: {
    new (init: { output: (chunk: NapiEncodedChunk, metadata?: unknown) => void; error: (e: Error) => void }): NativeVideoEncoder;
    isConfigSupported(config: VideoEncoderConfig): Promise<{ supported?: boolean }>;
  };
  VideoFrame: new (data: Uint8Array, init: { format: 'I420'; codedWidth: number; codedHeight: number; timestamp: number; duration: number; colorSpace: VideoColorSpaceInit }) => NativeVideoFrame;
}

/** The package's name, in a variable so that bundlers and tsc do not try to resolve it. */
const NAPI_WEBCODECS = '@napi-rs/webcodecs';

export interface NodeVideoEncoders {
  /** The codecs @napi-rs/webcodecs encodes here (empty when it is absent). */
  codecs: VideoCodecName[];
  /** Why there are none, when there are none. */
  unavailable?: string;
}

/** A WebCodecs codec string per mediabunny codec, to ask the native encoder what it supports. */
const PROBES: [VideoCodecName, string][] = [
  ['avc', 'avc1.42001f'],
  ['vp9', 'vp09.00.10.08'],
  ['vp8', 'vp8'],
];

let registered: Promise<NodeVideoEncoders> | undefined;

/**
 * Registers @napi-rs/webcodecs as mediabunny's video encoder, once; says which codecs it brings. Call it
 * before the first encodeVideo() in Node (mediabunny remembers what it could not encode).
 */
export function useNodeWebCodecs(): Promise<NodeVideoEncoders> {
  registered ??= (async () => {
    let webcodecs: NapiWebCodecs;
    try {
      webcodecs = (await import(NAPI_WEBCODECS)) as NapiWebCodecs;
    } catch (e) {
      const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
      return { codecs: [], unavailable: `@napi-rs/webcodecs is not installed or has no build for this platform (${reason})` };
    }
    const codecs: VideoCodecName[] = [];
    for (const [codec, probe] of PROBES) {
      const support = await webcodecs.VideoEncoder.isConfigSupported({ codec: probe, width: 256, height: 256, bitrate: 500_000, framerate: 8 });
      if (support.supported) codecs.push(codec);
    }
    registerEncoder(napiEncoderClass(webcodecs, new Set(codecs)));
    return codecs.length ? { codecs } : { codecs, unavailable: '@napi-rs/webcodecs encodes none of H.264, VP9, VP8 here' };
  })();
  return registered;
}

function napiEncoderClass(webcodecs: NapiWebCodecs, codecs: Set<VideoCodec>): typeof CustomVideoEncoder {
  return class NapiVideoEncoder extends CustomVideoEncoder {
    private encoder?: NativeVideoEncoder;
    /** Each frame's duration (µs) by timestamp: the native encoder's chunks come without one. */
    private readonly durations = new Map<number, number>();

    static override supports(codec: VideoCodec, config: VideoEncoderConfig): boolean {
      return codecs.has(codec) && !(codec === 'avc' && (config.width % 2 === 1 || config.height % 2 === 1));
    }

    init(): void {
      this.encoder = new webcodecs.VideoEncoder({
        output: (chunk, metadata) => {
          const data = new Uint8Array(chunk.byteLength);
          chunk.copyTo(data);
          const duration = chunk.duration || this.durations.get(chunk.timestamp) || 0;
          this.durations.delete(chunk.timestamp);
          const packet = new EncodedPacket(data, chunk.type === 'key' ? 'key' : 'delta', chunk.timestamp / 1e6, duration / 1e6);
          this.onPacket(packet, metadata as EncodedVideoChunkMetadata | undefined);
        },
        error: (e) => this.onError(e),
      });
      this.encoder.configure(this.config);
    }

    async encode(sample: VideoSample, options: VideoEncoderEncodeOptions): Promise<void> {
      if (sample.format !== 'RGBA' && sample.format !== 'RGBX') throw new Error(`the Node video encoder takes RGBA frames, got ${sample.format}`);
      const rgba = new Uint8Array(sample.allocationSize());
      await sample.copyTo(rgba);
      const timestamp = Math.round(sample.timestamp * 1e6);
      const duration = Math.round(sample.duration * 1e6);
      this.durations.set(timestamp, duration);
      // I420 made here, so the file's colour metadata names the matrix the pixels are in.
      const frame = new webcodecs.VideoFrame(rgbaToI420(rgba, sample.codedWidth, sample.codedHeight), {
        format: 'I420',
        codedWidth: sample.codedWidth,
        codedHeight: sample.codedHeight,
        timestamp,
        duration,
        colorSpace: { ...I420_COLOR_SPACE },
      });
      try {
        this.encoder!.encode(frame, { keyFrame: options.keyFrame ?? false });
      } finally {
        frame.close();
      }
    }

    async flush(): Promise<void> {
      await this.encoder!.flush();
    }

    close(): void {
      if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
    }
  };
}

/** encodeWebm for Node (key frames only): loads libwebp's WebAssembly from the installed package first. */
export async function encodeNodeWebm(...args: Parameters<typeof encodeWebm>): Promise<Uint8Array> {
  await initNodeVideoEncoder();
  return encodeWebm(...args);
}

/** encodeVideo for Node: MP4 (H.264) or WebM (VP9/VP8) through @napi-rs/webcodecs where it is installed. */
export async function encodeNodeVideo(...args: Parameters<typeof encodeVideo>): Promise<EncodedVideo> {
  await useNodeWebCodecs();
  await initNodeVideoEncoder();
  return encodeVideo(...args);
}
