"""Tests of trialomics.enrichment on small simulated rankings and a GMT written to tmp_path."""
import socket
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from trialomics import enrichment as en
from trialomics.errors import InputProblem

GENES = [f"G{i:04d}" for i in range(600)]


def planted_gene_sets():
    return {"PLANTED_UP": GENES[:12], "PLANTED_DOWN": GENES[-12:], "NOISE_A": GENES[200:230],
            "NOISE_B": GENES[300:330:2], "TOO_SMALL": GENES[400:402]}


def write_gmt(path, gene_sets):
    path.write_text("".join(f"{name}\tsource of {name}\t" + "\t".join(genes) + "\n"
                            for name, genes in gene_sets.items()))
    return path


def planted_ranking(seed=0):
    rng = np.random.default_rng(seed)
    stat = pd.Series(rng.normal(size=len(GENES)), index=GENES)
    stat.iloc[:12] += 4.0
    stat.iloc[-12:] -= 4.0
    return stat.sort_values(ascending=False)


# ------------------------------------------------------------------ GMT files


def test_read_gmt_round_trip_and_duplicate_genes_kept_once(tmp_path):
    path = tmp_path / "sets.gmt"
    path.write_text("A\tdesc\tX\tY\tX\t\nB\thttp://source\tZ\n")
    assert en.read_gmt(path) == {"A": ["X", "Y"], "B": ["Z"]}


@pytest.mark.parametrize("text, message", [
    ("A\tdesc\n", "at least one gene"),
    ("A\tdesc\tX\nA\tdesc\tY\n", "defined twice"),
    ("", "no gene set"),
])
def test_read_gmt_rejects_malformed_files(tmp_path, text, message):
    path = tmp_path / "bad.gmt"
    path.write_text(text)
    with pytest.raises(InputProblem, match=message):
        en.read_gmt(path)


def test_resolve_gene_set_path_prefers_the_working_directory(tmp_path):
    work, project = tmp_path / "work", tmp_path / "project"
    (work / "sets").mkdir(parents=True)
    (work / "sets" / "mine.gmt").write_text("A\td\tX\n")
    assert en.resolve_gene_set_path("sets/mine.gmt", work, project) == work / "sets" / "mine.gmt"
    assert en.resolve_gene_set_path("resources/gene_sets/io.gmt", work, project) == \
        project / "resources/gene_sets/io.gmt"
    assert en.resolve_gene_set_path(tmp_path / "x.gmt", work, project) == tmp_path / "x.gmt"


def test_load_collections_names_each_file(tmp_path):
    first = write_gmt(tmp_path / "immuno_oncology.gmt", {"A": ["X"]})
    second = write_gmt(tmp_path / "hallmark.GMT", {"B": ["Y"]})
    assert en.load_collections([first, second]) == {"immuno_oncology": {"A": ["X"]},
                                                    "hallmark": {"B": ["Y"]}}


# ------------------------------------------------------------------ ranking


def test_ranking_keeps_the_strongest_feature_per_gene_and_sorts():
    table = pd.DataFrame({"feature": ["P1", "P2", "P3", "P4", "P5", "P6"],
                          "stat": [1.0, -3.0, 2.0, np.nan, 2.0, 9.0],
                          "pvalue": [0.3, 0.01, 0.04, np.nan, 0.04, np.nan]})
    gene_of = {"P1": "CD8A", "P2": "CD8A", "P3": "GZMA", "P5": "PRF1", "P6": "OUTLIER"}
    ranking = en.ranking_from_table(table, gene_of=gene_of)
    assert list(ranking.index) == ["GZMA", "PRF1", "CD8A"]
    assert list(ranking) == [2.0, 2.0, -3.0]


# ------------------------------------------------------------------ over-representation


def test_ora_hypergeometric_p_value_by_hand():
    background = [f"g{i}" for i in range(20)]
    sets = {"S": ["g0", "g1", "g2", "g3", "g4"], "T": ["g10", "g11", "g12"]}
    table = en.over_representation(["g0", "g1", "g2", "g15"], background, sets, min_size=3)
    row = table.set_index("gene_set").loc["S"]
    # P(X >= 3), X ~ hypergeometric(20 genes, 5 in S, 4 drawn)
    expected = sum(comb(5, k) * comb(15, 4 - k) for k in (3, 4)) / comb(20, 4)
    assert row["pvalue"] == pytest.approx(expected, rel=1e-12)
    assert (row["overlap"], row["set_size"], row["selected_size"], row["background_size"]) == \
        (3, 5, 4, 20)
    assert row["genes"] == "g0;g1;g2"
    # A set without overlap stays in the family (p = 1) so the FDR does not depend on the query.
    assert table.set_index("gene_set").loc["T", "pvalue"] == 1.0
    assert table["fdr"].tolist() == pytest.approx([expected * 2, 1.0])


def test_ora_never_counts_a_gene_outside_the_background():
    background = [f"g{i}" for i in range(20)]
    sets = {"S": ["g0", "g1", "g2", "OUTSIDE1", "OUTSIDE2"]}
    with_outside = en.over_representation(["g0", "OUTSIDE1", "OUTSIDE2"], background, sets)
    without = en.over_representation(["g0"], background, sets)
    assert with_outside.iloc[0]["overlap"] == 1
    assert with_outside.iloc[0]["set_size"] == 3          # the set restricted to the background
    assert with_outside.iloc[0]["selected_size"] == 1
    assert with_outside.iloc[0]["pvalue"] == without.iloc[0]["pvalue"] == pytest.approx(3 / 20)


def test_ora_by_direction_uses_the_tested_features_as_background():
    table = pd.DataFrame({"feature": GENES[:40],
                          "effect": [2.0] * 5 + [-2.0] * 5 + [0.1] * 30,
                          "padj": [0.001] * 10 + [0.9] * 29 + [np.nan]})
    sets = {"UP": GENES[:5] + GENES[20:23], "DOWN": GENES[5:10]}
    result = en.ora_by_direction(table, sets, padj_threshold=0.05)
    up = result[(result["direction"] == "up") & (result["gene_set"] == "UP")].iloc[0]
    assert up["background_size"] == 39 and up["overlap"] == 5 and up["selected_size"] == 5
    down = result[(result["direction"] == "down")].set_index("gene_set")
    assert down.loc["DOWN", "overlap"] == 5 and down.loc["UP", "overlap"] == 0
    assert set(result["direction"]) == {"up", "down", "any"}


# ------------------------------------------------------------------ preranked GSEA


def test_prerank_puts_the_planted_set_first_with_positive_nes():
    ranking = planted_ranking()
    table = en.preranked_gsea(ranking, planted_gene_sets(), permutations=200, seed=42, min_size=3)
    assert list(table.columns) == ["gene_set", "size", "es", "nes", "pvalue", "fdr", "leading_edge",
                                   "seed"]
    assert set(table["gene_set"]) == {"PLANTED_UP", "PLANTED_DOWN", "NOISE_A", "NOISE_B"}
    top = table.set_index("gene_set")
    assert table["gene_set"].iloc[0] in {"PLANTED_UP", "PLANTED_DOWN"}
    assert top.loc["PLANTED_UP", "nes"] > 0 and top.loc["PLANTED_UP", "fdr"] < 0.05
    assert top.loc["PLANTED_DOWN", "nes"] < 0 and top.loc["PLANTED_DOWN", "fdr"] < 0.05
    assert top.loc["NOISE_A", "fdr"] > 0.05
    assert set(top.loc["PLANTED_UP", "leading_edge"].split(";")) <= set(GENES[:12])
    # The running sum computed here gives gseapy's enrichment score.
    curve = en.running_enrichment_score(ranking, GENES[:12])
    assert curve["es"] == pytest.approx(top.loc["PLANTED_UP", "es"], abs=1e-6)
    assert en.running_enrichment_score(ranking, GENES[-12:])["es"] == \
        pytest.approx(top.loc["PLANTED_DOWN", "es"], abs=1e-6)


def test_prerank_is_reproducible_with_its_seed():
    ranking = planted_ranking(seed=1)
    first = en.preranked_gsea(ranking, planted_gene_sets(), permutations=100, seed=7)
    second = en.preranked_gsea(ranking, planted_gene_sets(), permutations=100, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert (first["seed"] == 7).all()


def test_running_score_by_hand():
    ranking = pd.Series([3.0, 1.0, -1.0, -2.0], index=["a", "b", "c", "d"])
    curve = en.running_enrichment_score(ranking, ["a", "c"])
    # hits a (3/4) and c (1/4); misses b, d (1/2 each): 0.75, 0.25, 0.5, 0.0
    np.testing.assert_allclose(curve["running"], [0.75, 0.25, 0.5, 0.0])
    assert curve["es"] == 0.75 and list(curve["hits"]) == [0, 2]


# ------------------------------------------------------------------ ssGSEA


def test_single_sample_scores_rank_the_samples_with_the_planted_programme_highest():
    rng = np.random.default_rng(4)
    samples = [f"S{i}" for i in range(8)]
    expression = pd.DataFrame(rng.normal(8, 1, size=(8, len(GENES))), index=samples, columns=GENES)
    expression.iloc[4:, :12] += 3.0
    scores = en.single_sample_scores(expression, planted_gene_sets(), min_size=3)
    assert list(scores.index) == samples
    assert "TOO_SMALL" not in scores.columns
    assert scores["PLANTED_UP"].iloc[4:].min() > scores["PLANTED_UP"].iloc[:4].max()
    obs = pd.DataFrame({"patient_id": [f"P{i}" for i in range(8)]}, index=samples)
    gene_sets = planted_gene_sets()
    adata = en.pathway_anndata(scores, obs, gene_sets, {s: "test" for s in gene_sets}, {"x": 1})
    assert adata.shape == (8, 4)
    assert adata.var.loc["PLANTED_UP", "n_genes"] == 12
    np.testing.assert_array_equal(adata.X, adata.layers["raw"])


# ------------------------------------------------------------------ offline


def test_whole_enrichment_runs_with_networking_disabled(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("networking is disabled in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 80))

    ranking = planted_ranking()
    prerank = en.preranked_gsea(ranking, planted_gene_sets(), permutations=50, seed=1)
    assert prerank.set_index("gene_set").loc["PLANTED_UP", "nes"] > 0
    table = pd.DataFrame({"feature": ranking.index, "stat": ranking.to_numpy(),
                          "effect": ranking.to_numpy(),
                          "padj": np.where(np.abs(ranking.to_numpy()) > 3, 0.001, 0.5)})
    ora = en.ora_by_direction(table, planted_gene_sets())
    assert ora[(ora["direction"] == "up")].iloc[0]["gene_set"] == "PLANTED_UP"
    expression = pd.DataFrame(np.random.default_rng(2).normal(size=(4, len(GENES))),
                              index=list("abcd"), columns=GENES)
    assert en.single_sample_scores(expression, planted_gene_sets()).shape == (4, 4)


def test_each_collection_is_its_own_family_and_curves_follow_the_table():
    ranking = planted_ranking()
    collections = {"curated": {"PLANTED_UP": GENES[:12]}, "other": planted_gene_sets()}
    table = en.prerank_collections(ranking, collections, permutations=100, seed=3)
    assert list(table.columns[:2]) == ["collection", "gene_set"]
    assert table.groupby("collection").size().to_dict() == {"curated": 1, "other": 4}
    curves = en.leading_set_curves(ranking, table, collections, n_sets=2)
    assert len(curves) == 2
    first = next(iter(curves.values()))
    assert set(first) >= {"running", "hits", "es", "nes", "fdr"}


# ------------------------------------------------------------------ correlation-adjusted test


def correlated_programme(rho=0.5, n=20, n_genes=400, set_size=20, seed=8):
    """Samples x genes with a latent programme shared by the first ``set_size`` genes."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=n)
    values = rng.normal(size=(n, n_genes))
    values[:, :set_size] = np.sqrt(rho) * factor[:, None] + np.sqrt(1 - rho) * values[:, :set_size]
    return pd.DataFrame(values, index=[f"S{i}" for i in range(n)], columns=GENES[:n_genes]), factor


def test_residual_effects_recover_the_inter_gene_correlation():
    values, _ = correlated_programme(rho=0.5, n=60)
    design = pd.DataFrame({"Intercept": 1.0, "g": [0.0] * 30 + [1.0] * 30}, index=values.index)
    units = en.residual_effects(values, design)
    assert units.shape == (58, 400)
    np.testing.assert_allclose((units ** 2).mean(axis=0), 1.0)
    z = pd.Series(np.random.default_rng(1).normal(size=400), index=values.columns)
    table = en.correlation_adjusted_set_test(z, units, {"PROGRAMME": GENES[:20],
                                                        "RANDOM": GENES[100:120]})
    rho = table.set_index("gene_set")["inter_gene_correlation"]
    assert rho["PROGRAMME"] == pytest.approx(0.5, abs=0.15)
    assert abs(rho["RANDOM"]) < 0.1


def test_identical_genes_count_as_one_and_independent_genes_as_many():
    rng = np.random.default_rng(2)
    units = pd.DataFrame(rng.normal(size=(30, 200)), columns=GENES[:200])
    units.iloc[:, 1:10] = units.iloc[:, [0]].to_numpy()          # nine copies of the first gene
    z = pd.Series(0.0, index=GENES[:200])
    z.iloc[:10] = 2.0
    z.iloc[20:30] = 2.0
    table = en.correlation_adjusted_set_test(z, units / np.sqrt((units ** 2).mean()),
                                             {"COPIES": GENES[:10], "INDEPENDENT": GENES[20:30]})
    rows = table.set_index("gene_set")
    assert rows.loc["COPIES", "inter_gene_correlation"] == pytest.approx(1.0)
    assert rows.loc["COPIES", "pvalue"] > 10 * rows.loc["INDEPENDENT", "pvalue"]
    # With VIF 1 + 9 * 1 = 10, ten identical genes carry the information of one: the statistic
    # shrinks by sqrt(10) relative to independent genes with the same mean z (whose VIF is
    # floored at 1 when their estimated correlation is negative).
    independent_vif = max(1.0, 1 + 9 * rows.loc["INDEPENDENT", "inter_gene_correlation"])
    assert rows.loc["INDEPENDENT", "t"] / rows.loc["COPIES", "t"] == pytest.approx(
        np.sqrt((10 / 10 + 1 / 190) / (independent_vif / 10 + 1 / 190)), rel=1e-6)


def test_a_co_regulated_programme_unrelated_to_the_groups_is_rarely_called():
    """Random 4-vs-16 labels: a programme of correlated genes moves with them by chance. Gene
    permutation (GSEA) treats its genes as independent and calls it often; the
    correlation-adjusted test keeps close to its nominal 5%."""
    values, _ = correlated_programme(rho=0.6, n=20)
    rng = np.random.default_rng(0)
    camera_calls = gsea_calls = 0
    trials = 30
    for _ in range(trials):
        groups = np.zeros(20)
        groups[rng.choice(20, 4, replace=False)] = 1.0
        design = pd.DataFrame({"Intercept": 1.0, "g": groups}, index=values.index)
        t = scipy_stats.ttest_ind(values.to_numpy()[groups == 1], values.to_numpy()[groups == 0]).statistic
        z = pd.Series(np.sign(t) * scipy_stats.norm.isf(scipy_stats.t.sf(np.abs(t), 18)),
                      index=values.columns)
        camera = en.correlation_adjusted_set_test(z, en.residual_effects(values, design),
                                                  {"PROGRAMME": GENES[:20]})
        gsea = en.preranked_gsea(z.sort_values(ascending=False),
                                 {"PROGRAMME": GENES[:20], "NOISE": GENES[200:220]},
                                 permutations=100, seed=1).set_index("gene_set")
        camera_calls += camera["pvalue"].iloc[0] < 0.05
        gsea_calls += gsea.loc["PROGRAMME", "pvalue"] < 0.05
    assert camera_calls <= 0.15 * trials
    assert gsea_calls >= 0.3 * trials


# Known answers from R limma 3.54.1 (Debian 12), computed once with:
#
#   library(limma)
#   G <- 40; n <- 10; s <- 1:n; g <- 1:G
#   group <- rep(c(0, 1), each = 5); x <- s / 10; factor <- sin(2.1 * s)
#   y <- outer(g, s, function(g, s) sin(0.37 * g * s) + 0.5 * cos(g + s))
#   y[1:8, ] <- y[1:8, ] + matrix(factor + group, 8, n, byrow = TRUE)
#   y[9:14, ] <- y[9:14, ] + 2 * matrix(group, 6, n, byrow = TRUE)
#   rownames(y) <- sprintf("g%02d", g)
#   design <- cbind(Intercept = 1, group = group, x = x)
#   index <- list(PROGRAMME = 1:8, SHIFTED = 9:14, OTHER = 20:31)
#   camera(y, index, design, contrast = 2, inter.gene.cor = NA, sort = FALSE)
#   camera(y, index, design, contrast = 2, sort = FALSE)        # inter.gene.cor = 0.01
#   fit <- eBayes(lmFit(y, design))
#   zscoreT(fit$t[, 2], df = fit$df.total, approx = TRUE, method = "hill")   # camera's statistic
#
# The tested coefficient is not the design's last column (camera moves it there), and
# PROGRAMME's genes share a latent factor (correlation 0.56), so its estimated-correlation p-value
# is far above the fixed-correlation one.
CAMERA_R_Z = [
    0.786863239148, -0.538831364527, 2.418505569366, 0.859135066295, 1.394525692745,
    2.026292017566, 0.953007283794, -0.019655507009, 1.095700632773, 1.486667293329,
    1.586016332488, 3.013940411931, 2.356078304011, -1.102910602942, -0.130089973362,
    -0.451694744551, 0.750296003157, 1.219585290034, -0.342649486830, 2.185632011718,
    -1.399719528010, -1.144700084801, 1.156186572067, 0.838100719438, 0.432374987238,
    0.337067127368, -0.904306250468, -1.848435598913, 0.275094487144, 1.064747578328,
    -1.471105348879, 1.090434774134, -0.940401349911, -1.531093713691, -0.757035418517,
    -0.190722493836, 3.172841445839, 0.097297989242, -0.846042827212, -0.164708379618]
CAMERA_R_ESTIMATED = {  # NGenes, Correlation, Direction, PValue
    "PROGRAMME": (8, 0.5580800016889248, "up", 0.5141122577479664),
    "SHIFTED": (6, -0.0781270808012071, "up", 0.0728116981237693),
    "OTHER": (12, -0.0889392762018646, "down", 0.1786586281282173)}
CAMERA_R_FIXED = {"PROGRAMME": 0.1824394016122429, "SHIFTED": 0.0456622421284601,
                  "OTHER": 0.1579959759214497}


def camera_example():
    """The matrix, design and sets of the R code above (samples x genes)."""
    s, g = np.arange(1, 11), np.arange(1, 41)
    group = np.repeat([0.0, 1.0], 5)
    y = np.sin(0.37 * np.outer(g, s)) + 0.5 * np.cos(g[:, None] + s[None, :])
    y[:8] += np.sin(2.1 * s) + group
    y[8:14] += 2 * group
    genes = [f"g{i:02d}" for i in g]
    values = pd.DataFrame(y.T, index=[f"S{i}" for i in s], columns=genes)
    design = pd.DataFrame({"Intercept": 1.0, "group": group, "x": s / 10}, index=values.index)
    sets = {"PROGRAMME": genes[0:8], "SHIFTED": genes[8:14], "OTHER": genes[19:31]}
    return values, design, sets, pd.Series(CAMERA_R_Z, index=genes)


def test_correlation_adjusted_test_matches_limma_camera_with_estimated_correlation():
    values, design, sets, z = camera_example()
    table = en.correlation_adjusted_set_test(z, en.residual_effects(values, design), sets)
    rows = table.set_index("gene_set")
    for name, (size, correlation, direction, pvalue) in CAMERA_R_ESTIMATED.items():
        assert rows.loc[name, "size"] == size
        assert rows.loc[name, "inter_gene_correlation"] == pytest.approx(correlation, abs=1e-12)
        assert rows.loc[name, "direction"] == direction
        # The p-values are on min(residual df, G - 2) = 7 df; on G - 2 = 38 df PROGRAMME would
        # get 0.50 and SHIFTED 0.042.
        assert rows.loc[name, "pvalue"] == pytest.approx(pvalue, rel=1e-9)
    np.testing.assert_allclose(rows.loc[["PROGRAMME", "SHIFTED", "OTHER"], "fdr"],
                               [0.514112257747966, 0.218435094371308, 0.267987942192326], rtol=1e-9)


def test_correlation_adjusted_test_matches_limma_camera_with_fixed_correlation():
    values, design, sets, z = camera_example()
    table = en.correlation_adjusted_set_test(z, en.residual_effects(values, design), sets,
                                             inter_gene_correlation=0.01)
    rows = table.set_index("gene_set")
    assert (rows["inter_gene_correlation"] == 0.01).all()
    for name, pvalue in CAMERA_R_FIXED.items():
        assert rows.loc[name, "pvalue"] == pytest.approx(pvalue, rel=1e-9)


def test_the_workflow_moderated_t_gives_camera_statistic():
    """limma's moderated t (inmoose) as exact z-scores equals camera's Hill approximation here."""
    from trialomics.differential_proteins import moderated_t_test

    values, design, _, z = camera_example()
    tested = moderated_t_test(values, design, "group")
    assert tested["df_prior"].iloc[0] == pytest.approx(6.18468529009141, rel=1e-6)
    ours = en.z_scores(tested.rename_axis("feature").reset_index())
    np.testing.assert_allclose(ours[z.index], z, atol=1e-7)


def test_z_scores_keep_the_sign_and_the_p_value():
    table = pd.DataFrame({"feature": ["a", "b"], "stat": [2.5, -1.0],
                          "pvalue": [2 * scipy_stats.norm.sf(2.5), 0.2]})
    z = en.z_scores(table)
    assert z["a"] == pytest.approx(2.5)
    assert z["b"] == pytest.approx(-scipy_stats.norm.isf(0.1))
