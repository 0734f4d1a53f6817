// The speed–quality front: which points are on it, and the SVG and text that show it.
import { describe, expect, it } from 'vitest';
import { frontSvg, frontText, paretoFront, type FrontPoint } from '../../src/pipeline/bench-front.ts';

const p = (spec: string, speedup: number, psnr: number): FrontPoint => ({ spec, policy: spec.split(':')[0], speedup, psnr });

describe('paretoFront', () => {
  const points = [
    p('none', 1, Infinity),
    p('bwcache:threshold=0.1', 1.5, 34),
    p('bwcache:threshold=0.2', 1.8, 31),
    p('static:interval=2', 1.7, 30), // beaten by threshold=0.2 on both axes
    p('teacache', 1.3, 35.5),
    p('first-block', 0.95, Infinity), // slower than none with the same frames
    p('static:interval=4', 2.4, 22),
  ];

  it('keeps exactly the points nothing beats on both axes, by speedup', () => {
    expect(paretoFront(points).map((q) => q.spec)).toEqual(['none', 'teacache', 'bwcache:threshold=0.1', 'bwcache:threshold=0.2', 'static:interval=4']);
  });

  it('keeps one of two equal points, and a lone point', () => {
    expect(paretoFront([p('a', 1.2, 30), p('b', 1.2, 30)])).toHaveLength(1);
    expect(paretoFront([p('a', 1.2, 30)])).toHaveLength(1);
    expect(paretoFront([])).toEqual([]);
  });

  it('draws one circle per point, the front as a path, PSNR ∞ on its own band', () => {
    const svg = frontSvg(points);
    expect(svg.match(/<circle class="point"/g)).toHaveLength(points.length);
    expect(svg).toContain('class="front"');
    expect(svg).toContain('data-spec="bwcache:threshold=0.2"');
    expect(svg).toContain('>∞</text>');
    expect(svg).not.toMatch(/NaN|Infinity"/);
    // The ∞ points sit above every finite one (smaller y in SVG).
    const cy = (spec: string) => Number(new RegExp(`data-spec="${spec}"[^>]*cy="([\\d.]+)"`).exec(svg)![1]);
    expect(cy('none')).toBeLessThan(cy('teacache'));
    expect(cy('teacache')).toBeLessThan(cy('static:interval=4'));
  });

  it('escapes specs in the SVG', () => {
    expect(frontSvg([p('x<y>&"', 1.1, 20)])).toContain('data-spec="x&#60;y&#62;&#38;&#34;"');
  });

  it('prints the front as text', () => {
    const text = frontText(points);
    expect(text).toContain('5 of 7 points');
    expect(text).toMatch(/static:interval=4\s+2\.40×\s+22\.0/);
    expect(text).not.toContain('static:interval=2 ');
  });
});
