/**
 * Leaf-wise (best-first) tree learner with LightGBM's semantics (docs "Leaf-wise (Best-first)
 * Tree Growth"; `src/treelearner/serial_tree_learner.cpp` Train / BeforeFindBestSplit / Split,
 * `src/io/tree.cpp` Tree::Split): grow until `num_leaves`, always splitting the leaf with the
 * largest gain (ties: smaller feature index, then lower leaf index), stop when the best gain ≤ 0.
 * A new pair of leaves gets histograms only when it may split again (depth < `max_depth` and one
 * child has ≥ 2·`min_data_in_leaf` rows); the smaller child's histogram is built, the larger one's
 * is parent − smaller. Node and leaf numbering, internal values/weights/counts follow Tree::Split,
 * so the result writes out as LightGBM's text model.
 */
import { MISSING_NAN, type Tree } from "../tree.ts";
import type { BinnedData } from "./binned_data.ts";
import { allocContext, C, CF, JOB_HIST, JOB_PARTITION } from "./histogram.ts";
import { avoidInf, type GrownTree, newTree, roundToZero } from "./grown_tree.ts";
import { gatherPartition } from "./partition.ts";
import type { ObjectiveFn } from "./objectives.ts";
import type { TrainerThreads } from "./parallel.ts";
import type { TrainParams } from "./params.ts";
import { K_EPSILON, leafOutput, S, SPLIT_REC, type SplitConfig } from "./split.ts";

/** Booster state shared with the trainer threads (SharedArrayBuffer-backed when threaded). */
export interface BoostBuffers {
  objective: ObjectiveFn;
  params: TrainParams;
  labels: Float64Array;
  /** Raw scores and gradients/hessians, K·N class-major. */
  scores: Float64Array;
  grad: Float32Array;
  hess: Float32Array;
}

/** Learner limits (LightGBM parameters of the same names). */
export interface LearnerConfig extends SplitConfig {
  numLeaves: number;
  maxDepth: number;
  learningRate: number;
}

/**
 * Grows one tree per call over fixed binned training data, running its histogram and partition
 * jobs on the trainer threads. Reuses its buffers from tree to tree (not re-entrant).
 */
export class TreeLearner {
  private readonly n: number;
  private readonly nu: number;
  // Per-leaf state of the tree being grown.
  private readonly leafBegin: Int32Array;
  private readonly leafCnt: Int32Array;
  private readonly leafG: Float64Array;
  private readonly leafH: Float64Array;
  private readonly leafOut: Float64Array;
  private readonly leafDepth: Int32Array;
  private readonly leafSlot: Int32Array;
  private readonly leafParent: Int32Array;
  // Best split per leaf.
  private readonly bGain: Float64Array;
  private readonly bJ: Int32Array;
  private readonly bThr: Int32Array;
  private readonly bDef: Uint8Array;
  private readonly bLG: Float64Array;
  private readonly bLH: Float64Array;
  private readonly bLC: Int32Array;

  private constructor(
    readonly data: BinnedData,
    readonly cfg: LearnerConfig,
    readonly constHess: number | null,
    private readonly engine: TrainerThreads,
  ) {
    this.n = data.numRows;
    this.nu = data.used.length;
    const L = cfg.numLeaves;
    this.leafBegin = new Int32Array(L);
    this.leafCnt = new Int32Array(L);
    this.leafG = new Float64Array(L);
    this.leafH = new Float64Array(L);
    this.leafOut = new Float64Array(L);
    this.leafDepth = new Int32Array(L);
    this.leafSlot = new Int32Array(L);
    this.leafParent = new Int32Array(L);
    this.bGain = new Float64Array(L);
    this.bJ = new Int32Array(L);
    this.bThr = new Int32Array(L);
    this.bDef = new Uint8Array(L);
    this.bLG = new Float64Array(L);
    this.bLH = new Float64Array(L);
    this.bLC = new Int32Array(L);
  }

  /**
   * Allocates the partition, ordered gradients and histogram pool (shared when the engine has
   * workers; `data.bins` must then be SharedArrayBuffer-backed) and attaches the workers to them.
   * @param boost the objective and the score/gradient buffers the gradient job works on
   * @throws Error when the histogram pool would exceed 2 GiB (num_leaves × total bins too large)
   */
  static async create(
    data: BinnedData,
    cfg: LearnerConfig,
    engine: TrainerThreads,
    boost: BoostBuffers,
  ): Promise<TreeLearner> {
    const shared = engine.threads > 1;
    const constHess = boost.objective.constantHessian;
    const ctx = allocContext(data, cfg, boost, shared);
    await engine.attach(ctx, boost.objective, boost.params, boost.labels);
    return new TreeLearner(data, cfg, constHess, engine);
  }

  /** Threads used for histogram construction (main thread included). */
  get threads(): number {
    return this.engine.threads;
  }

  /** Partition array: after `grow`, leaf l's rows are idx[leafBegin[l], +leafCount[l]). */
  get idx(): Int32Array {
    return this.engine.ctx.idx;
  }

  /**
   * Grows one tree on gradients grad/hess[offset .. offset+N) (N = training rows).
   * @param bag in-bag row indices (ascending) or null for all rows; only bag[0..bagCnt) is used
   * @param features used-feature indices (into data.used, ascending) this tree may split on
   */
  grow(
    grad: Float32Array,
    hess: Float32Array,
    offset: number,
    bag: Int32Array | null,
    bagCnt: number,
    features: Int32Array,
  ): GrownTree {
    const ctx = this.engine.ctx;
    const { idx, gc, hc } = ctx;
    const n = this.n, cfg = this.cfg;
    gc.set(grad.subarray(offset, offset + n));
    hc.set(hess.subarray(offset, offset + n));
    let cnt0: number;
    let G = 0, H = 0;
    if (bag === null) {
      for (let i = 0; i < n; i++) {
        idx[i] = i;
        G += gc[i];
        H += hc[i];
      }
      cnt0 = n;
    } else {
      for (let i = 0; i < bagCnt; i++) {
        const r = bag[i];
        idx[i] = r;
        G += gc[r];
        H += hc[r];
      }
      cnt0 = bagCnt;
    }
    const L = cfg.numLeaves;
    const t = newTree(cfg.learningRate);
    const nodeJ = new Int32Array(L - 1), nodeThr = new Int32Array(L - 1);
    const nodeDefLeft = new Uint8Array(L - 1), nodeNanBin = new Int32Array(L - 1);
    this.leafBegin[0] = 0;
    this.leafCnt[0] = cnt0;
    this.leafG[0] = G;
    this.leafH[0] = H;
    this.leafOut[0] = leafOutput(G, H, cfg.lambdaL1, cfg.lambdaL2);
    this.leafDepth[0] = 0;
    this.leafSlot[0] = 0;
    this.leafParent[0] = -1;
    this.bGain.fill(-Infinity);
    if (cnt0 >= 2 * cfg.minDataInLeaf) {
      ctx.featList.set(features);
      this.runJob(features.length, 0, 0, cnt0, G, H, -1, 0, 0, 0, bag === null);
      this.collect(0, features.length);
    }
    let nLeaves = 1;
    for (let split = 0; split < L - 1; split++) {
      let best = 0;
      for (let l = 1; l < nLeaves; l++) {
        const g = this.bGain[l], gb = this.bGain[best];
        if (g > gb || (g === gb && g > -Infinity && this.bJ[l] < this.bJ[best])) best = l;
      }
      if (!(this.bGain[best] > 0)) break;
      const q = nLeaves;
      this.splitLeaf(t, best, q, nodeJ, nodeThr, nodeDefLeft, nodeNanBin);
      nLeaves++;
      // After the last split nothing more is split: no histograms for its children (LightGBM
      // looks for splits at the start of the next round, which does not happen).
      if (nLeaves < L) this.findChildSplits(best, q, features);
    }
    t.numLeaves = nLeaves;
    const lr = cfg.learningRate;
    for (let l = 0; l < nLeaves; l++) {
      t.leafValue.push(roundToZero(this.leafOut[l] * lr));
      t.leafWeight.push(this.leafH[l]);
      t.leafCount.push(this.leafCnt[l]);
    }
    for (let k = 0; k < t.internalValue.length; k++) {
      t.internalValue[k] = roundToZero(t.internalValue[k] * lr);
    }
    return {
      tree: t,
      nodeJ: nodeJ.subarray(0, nLeaves - 1),
      nodeThr: nodeThr.subarray(0, nLeaves - 1),
      nodeDefLeft: nodeDefLeft.subarray(0, nLeaves - 1),
      nodeNanBin: nodeNanBin.subarray(0, nLeaves - 1),
      leafBegin: this.leafBegin.slice(0, nLeaves),
      leafCount: this.leafCnt.slice(0, nLeaves),
    };
  }

  /** Writes the job parameters and runs it on all threads. */
  private runJob(
    nfeat: number,
    slotS: number,
    beginS: number,
    cntS: number,
    gS: number,
    hS: number,
    slotL: number,
    cntL: number,
    gL: number,
    hL: number,
    seqMode: boolean,
  ): void {
    const c = this.engine.ctx.ctrl, cf = this.engine.ctx.ctrlF;
    c[C.NFEAT] = nfeat;
    c[C.SLOT_S] = slotS;
    c[C.BEGIN_S] = beginS;
    c[C.CNT_S] = cntS;
    c[C.SLOT_L] = slotL;
    c[C.CNT_L] = cntL;
    c[C.SEQ_MODE] = seqMode ? 1 : 0;
    c[C.CONST_HESS] = this.constHess !== null ? 1 : 0;
    cf[CF.G_S] = gS;
    cf[CF.H_S] = hS;
    cf[CF.G_L] = gL;
    cf[CF.H_L] = hL;
    cf[CF.HESS] = this.constHess ?? 0;
    this.engine.run(JOB_HIST, cntS * nfeat);
  }

  /** Best split of `leaf` over the job's feature list (first = smallest feature wins ties). */
  private collect(leaf: number, nfeat: number): void {
    const ctx = this.engine.ctx;
    const res = ctx.splitRes, list = ctx.featList;
    const base = this.leafSlot[leaf] * this.nu;
    let best = -Infinity, bj = -1;
    for (let p = 0; p < nfeat; p++) {
      const j = list[p];
      const g = res[(base + j) * SPLIT_REC + S.GAIN];
      if (g > best) {
        best = g;
        bj = j;
      }
    }
    this.bGain[leaf] = best;
    this.bJ[leaf] = bj;
    if (bj < 0) return;
    const o = (base + bj) * SPLIT_REC;
    this.bThr[leaf] = res[o + S.THRESHOLD];
    this.bDef[leaf] = res[o + S.DEFAULT_LEFT];
    this.bLG[leaf] = res[o + S.LEFT_G];
    this.bLH[leaf] = res[o + S.LEFT_H];
    this.bLC[leaf] = res[o + S.LEFT_CNT];
  }

  /** LightGBM BeforeFindBestSplit + FindBestSplits for the new leaves `left` and `right`. */
  private findChildSplits(left: number, right: number, features: Int32Array): void {
    const cfg = this.cfg;
    this.leafSlot[right] = right;
    this.bGain[left] = -Infinity;
    this.bGain[right] = -Infinity;
    if (cfg.maxDepth > 0 && this.leafDepth[left] >= cfg.maxDepth) return;
    const cl = this.leafCnt[left], cr = this.leafCnt[right];
    if (cl < 2 * cfg.minDataInLeaf && cr < 2 * cfg.minDataInLeaf) return;
    const small = cl < cr ? left : right;
    const large = small === left ? right : left;
    const slotP = this.leafSlot[left];
    const fresh = right;
    this.leafSlot[large] = slotP;
    this.leafSlot[small] = fresh;
    const ctx = this.engine.ctx;
    const nu = this.nu;
    let nf = 0;
    for (let p = 0; p < features.length; p++) {
      const j = features[p];
      if (ctx.splittable[slotP * nu + j]) ctx.featList[nf++] = j;
      else ctx.splittable[fresh * nu + j] = 0;
    }
    this.runJob(
      nf,
      fresh,
      this.leafBegin[small],
      this.leafCnt[small],
      this.leafG[small],
      this.leafH[small],
      slotP,
      this.leafCnt[large],
      this.leafG[large],
      this.leafH[large],
      false,
    );
    this.collect(small, nf);
    this.collect(large, nf);
  }

  /** Partitions leaf p's rows and records the split as node nLeaves−1 (LightGBM Tree::Split). */
  private splitLeaf(
    t: Tree,
    p: number,
    q: number,
    nodeJ: Int32Array,
    nodeThr: Int32Array,
    nodeDefLeft: Uint8Array,
    nodeNanBin: Int32Array,
  ): void {
    const data = this.data, cfg = this.cfg;
    const node = q - 1;
    const j = this.bJ[p], thr = this.bThr[p], def = this.bDef[p];
    const f = data.used[j];
    const mapper = data.mappers[f];
    const nanBin = mapper.missingType === MISSING_NAN ? mapper.numBin - 1 : -1;
    const begin = this.leafBegin[p], cnt = this.leafCnt[p];
    const lc = this.partition(begin, cnt, j, thr, def === 1, nanBin);
    if (lc !== this.bLC[p]) {
      throw new Error(`internal: partition sent ${lc} rows left, histogram said ${this.bLC[p]}`);
    }
    const rc = cnt - lc;
    const sumH = this.leafH[p] + 2 * K_EPSILON;
    const lg = this.bLG[p], lh = this.bLH[p];
    const rg = this.leafG[p] - lg, rh = sumH - lh;
    const parent = this.leafParent[p];
    if (parent >= 0) {
      if (t.leftChild[parent] === ~p) t.leftChild[parent] = node;
      else t.rightChild[parent] = node;
    }
    t.splitFeature.push(f);
    t.splitGain.push(Math.fround(this.bGain[p]));
    t.threshold.push(avoidInf(mapper.upperBounds[thr]));
    t.decisionType.push((def ? 2 : 0) | (mapper.missingType << 2));
    t.leftChild.push(~p);
    t.rightChild.push(~q);
    t.internalValue.push(this.leafOut[p]);
    t.internalWeight.push(this.leafH[p]);
    t.internalCount.push(cnt);
    nodeJ[node] = j;
    nodeThr[node] = thr;
    nodeDefLeft[node] = def;
    nodeNanBin[node] = nanBin;
    this.leafParent[p] = node;
    this.leafParent[q] = node;
    const lo = leafOutput(lg, lh, cfg.lambdaL1, cfg.lambdaL2);
    const ro = leafOutput(rg, rh, cfg.lambdaL1, cfg.lambdaL2);
    this.leafOut[p] = Number.isNaN(lo) ? 0 : lo;
    this.leafOut[q] = Number.isNaN(ro) ? 0 : ro;
    this.leafG[p] = lg;
    this.leafH[p] = lh - K_EPSILON;
    this.leafCnt[p] = lc;
    this.leafG[q] = rg;
    this.leafH[q] = rh - K_EPSILON;
    this.leafCnt[q] = rc;
    this.leafBegin[q] = begin + lc;
    this.leafDepth[q] = this.leafDepth[p] + 1;
    this.leafDepth[p]++;
  }

  /** Stable partition of idx[begin, begin+cnt) (partition.ts); returns the left count. */
  private partition(
    begin: number,
    cnt: number,
    j: number,
    thr: number,
    defLeft: boolean,
    nanBin: number,
  ): number {
    const ctx = this.engine.ctx;
    const c = ctx.ctrl;
    c[C.PART_BEGIN] = begin;
    c[C.PART_CNT] = cnt;
    c[C.PART_J] = j;
    c[C.PART_THR] = thr;
    c[C.PART_DEF] = defLeft ? 1 : 0;
    c[C.PART_NAN] = nanBin;
    // A row costs about as much as 4 histogram updates (2 stores, 2 loads, random bin read).
    const nt = this.engine.run(JOB_PARTITION, cnt * 4);
    return gatherPartition(ctx, nt);
  }
}
