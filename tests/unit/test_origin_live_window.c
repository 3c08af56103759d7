/*
 * The live writer's window, pure (live_window.c): the window slides, parts
 * leave the playlist and their records the index 3 target durations later,
 * segment files are handed out for removal a window after they left,
 * discontinuities are counted and a run's anchor outlives its segment.
 */
#include "live_writer_driver.h"

TestSuite(live_window, .init = setup, .fini = teardown);

Test(live_window, window_slides_and_parts_age_out)
{
    const cir_live_index_t *x;
    uint64_t off;
    uint32_t size;
    int i;

    start(6, "INIT", 4);
    put_segments(4);
    /* TD 4 s: parts on the last three segments only, the hinted next one
     * counted: segments 0 and 1's left the playlist */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[1].nb_parts, 0);
    cr_assert_eq(x->segments[2].nb_parts, 4);
    put_segment(); /* 20 s */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 5);
    cr_assert_eq(x->segments[0].msn, 0);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[2].nb_parts, 0);
    cr_assert_eq(x->segments[2].nb_kept, 4);
    cr_assert_eq(x->segments[3].nb_parts, 4);
    /* dropped parts stay fetchable for 3 x TD: their byte ranges stay */
    cr_assert_eq(x->segments[0].nb_kept, 4);
    cr_assert_eq(x->segments[1].first_part, 4);
    cr_assert_eq(x->segments[4].first_part, 16);
    cr_assert_eq(x->nb_parts, 20);
    cr_assert_eq(cir_live_index_part_range(x, 0, 3, &off, &size), 0);
    cr_assert_eq(off, 9); /* "P0.P1.P2." */
    cr_assert_eq(size, 3);

    put_segment(); /* 24 s: msn 0's records go (unlisted at 12 s) */
    put_segment();
    /* 28 s: 7 complete > window, and msn 0's part records went: msn 0
     * leaves; msn 1's went now too (unlisted at 16 s) */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 6);
    cr_assert_eq(x->segments[0].msn, 1);
    cr_assert(on_disk(0)); /* one window more */
    cr_assert_eq(x->segments[0].nb_kept, 0);
    cr_assert_eq(cir_live_index_part_range(x, 1, 0, &off, &size),
                 CIR_ENOTFOUND);
    /* msn 2's parts left the playlist 8 s ago: ranges kept */
    cr_assert_eq(x->segments[1].nb_parts, 0);
    cr_assert_eq(x->segments[1].nb_kept, 4);
    cr_assert_eq(x->segments[1].first_part, 0);
    cr_assert_eq(cir_live_index_part_range(x, 2, 0, &off, &size), 0);
    put_segment();
    for (i = 0; i < 5; i++) {
        cr_assert(on_disk(0));
        put_segment();
    }
    /* 24 s (window x segment target) after seg 0 left */
    cr_assert_not(on_disk(0));
    cr_assert(on_disk(1));
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 7);
    cr_assert_eq(x->segments[5].msn, 12);
    cr_assert_eq(x->discontinuity_sequence, 0);
    /* PDT follows the media timeline from the anchor */
    cr_assert_eq(x->segments[1].pdt_us - x->segments[0].pdt_us, 4000000);
}

Test(live_window, part_ranges_go_3_target_durations_after_the_parts)
{
    const cir_live_index_t *x;
    uint64_t off;
    uint32_t size;

    start(10, "INIT", 4);
    put_segments(3);
    /* 12 s: msn 0's parts leave the playlist (parts on the last three
     * segments only, the hinted next one counted) */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[0].nb_kept, 4);
    put_segment();
    put_segment(); /* 20 s: 8 s after, still servable */
    x = cir_live_writer_index(w);
    cr_assert_eq(cir_live_index_part_range(x, 0, 2, &off, &size), 0);
    cr_assert_eq(off, 6);
    cr_assert_eq(size, 3);
    put_segment(); /* 24 s: 12 s after, dropped at this segment's end */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_kept, 0);
    cr_assert_eq(x->segments[1].nb_kept, 4);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 0); /* still in the window */
    cr_assert_eq(x->segments[0].nb_kept, 0);
    cr_assert_eq(x->segments[0].first_part, 0);
    cr_assert_eq(cir_live_index_part_range(x, 0, 0, &off, &size),
                 CIR_ENOTFOUND);
    /* msn 1's (unlisted at 16 s) went at 28 s; msn 2 (unlisted at 20 s)
     * keeps its ranges */
    cr_assert_eq(x->segments[1].nb_kept, 0);
    cr_assert_eq(x->segments[2].nb_kept, 4);
    cr_assert_eq(x->segments[2].first_part, 0);
    cr_assert_eq(cir_live_index_part_range(x, 2, 1, &off, &size), 0);
    cr_assert_eq(off, 3);
    cr_assert(on_disk(0));
    {
        cir_live_index_t disk;
        cr_assert_eq(load(&disk), 0);
        cr_assert_eq(disk.nb_parts, x->nb_parts);
        cr_assert_eq(disk.segments[2].nb_kept, 4);
        cir_live_index_free(&disk);
    }
}

Test(live_window, parts_leave_the_playlist_three_segments_from_the_end)
{
    const cir_live_index_t *x;

    start(10, "INIT", 4);
    put_segment();
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 4);
    /* the third segment ends: with the hinted fourth, msn 0 is the fourth
     * segment from the end */
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[0].nb_kept, 4, "still servable");
    cr_assert_eq(x->segments[1].nb_parts, 4);
    /* the first part of msn 3 replaces the hint: msn 1 stays */
    cr_assert_eq(put_part(w, "Q", 1, media_t, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[1].nb_parts, 4);
    for (size_t i = 0; i < x->nb_segments; i++) {
        cr_assert_eq(x->segments[i].nb_parts > 0,
                     cir_live_parts_listed(x, i) != 0, "segment %zu", i);
    }
}

Test(live_window, new_init_means_discontinuity)
{
    const cir_live_index_t *x;

    start(3, "INIT1", 5);
    put_segment();
    put_segment();
    cr_assert_eq(put_init(w, "INIT2", 5), 0);
    cr_assert(last_init == 2);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->init_id, 2);
    cr_assert_eq(x->segments[1].init_id, 1);
    cr_assert_eq(x->segments[1].discontinuity, 0);
    cr_assert_eq(x->segments[2].init_id, 2);
    cr_assert_eq(x->segments[2].discontinuity, 1);
    /* an explicit discontinuity, with a timestamp jump */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    media_t += 100 * TS;
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[2].discontinuity, 1); /* msn 3 */
    cr_assert_eq(x->discontinuity_sequence, 0);
    /* msns 0-3 (2 and 3 flagged) leave once the window is full and their
     * part records went, 3 x TD after their parts left the playlist */
    put_segments(5);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 4);
    cr_assert_eq(x->discontinuity_sequence, 2);
}

Test(live_window, run_anchor_outlives_its_segment)
{
    const cir_live_index_t *x;
    cir_live_index_t disk;
    int64_t pdt2;
    int i;

    start(3, "I", 1);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->run_pdt_us, T0);
    cr_assert_eq(x->run_start, 0);
    cr_assert_eq(x->run_after_us, 0, "nothing before it");
    put_segment();
    /* a 6 s outage: the media goes on where it was, the wall clock not */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cir_clock_fixed_advance(&clk, 6000000);
    media_t += TS / 25;
    put_segment(); /* msn 2 */
    x = cir_live_writer_index(w);
    pdt2 = x->segments[2].pdt_us;
    cr_assert_eq(pdt2, T0 + 14000000); /* 8 s of media + 6 s away */
    cr_assert_eq(x->run_pdt_us, T0, "msn 0 is still listed");
    /* msn 0 and 1 leave (once their parts' records went, 3 x TD after
     * the parts left the playlist): msn 2 begins segments[0]'s run */
    for (i = 0; i < 16 && cir_live_writer_index(w)->segments[0].msn < 2; i++) {
        put_segment();
    }
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 2);
    cr_assert_eq(x->run_pdt_us, pdt2);
    cr_assert_eq(x->run_start, 8 * TS + TS / 25);
    /* where msn 1 ended: the outage lies between */
    cr_assert_eq(x->run_after_us, T0 + 8000000);
    for (i = 0; i < 16 && cir_live_writer_index(w)->segments[0].msn < 4; i++) {
        put_segment();
    }
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 4);
    cr_assert_eq(x->run_pdt_us, pdt2, "msn 2 left, its run goes on");
    cr_assert_eq(x->run_start, 8 * TS + TS / 25);
    cr_assert_eq(load(&disk), 0);
    cr_assert_eq(disk.run_pdt_us, pdt2);
    cr_assert_eq(disk.run_start, 8 * TS + TS / 25);
    cr_assert_eq(disk.run_after_us, T0 + 8000000);
    cir_live_index_free(&disk);
}
